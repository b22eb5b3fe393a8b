#!/usr/bin/env python3
"""The client's side of the memfd transport against the ordinary body, on one request.

    .build/release/omnizip bench --emit bench-data/clip-60s.safetensors      # 62 MB BF16
    python clients/python/bench_memfd.py --serve .build/release/omnizip \\
        --request bench-data/clip-60s.safetensors --rounds 20

Starts ``omnizip serve`` on a Unix socket. If it does not take memfd bodies (``/v1/info``
lists no ``memfd-body``), the memfd requests go through the test relay
(``tests/memfd_relay.py``, in a process of its own so that its work is not the client's),
which hands each memfd to the server as an ordinary body: then only the client's figures
below mean anything, not the round trips. Prints medians over ``--rounds``:

- writing the request from the tensors: ``codec.encode`` (to ``bytes``) against filling a
  sealed memfd (and one in huge pages, where the host has them free), wall and CPU;
- ``compress`` by each transport: the client's ``encode`` and ``upload`` (request sent to
  response read) wall and CPU (the calling thread's), and the whole call.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from omnizip_client import BF16Bits, Client, _memfd, codec
from omnizip_client.address import ServerAddress
from omnizip_client.local_server import LocalServer
from omnizip_client._protocol import advertises_memfd

TESTS = Path(__file__).resolve().parent / "tests"


def _relay(upstream: str, ready: Any, stop: Any) -> None:
    sys.path.insert(0, str(TESTS))
    from memfd_relay import MemfdRelay

    with MemfdRelay(upstream) as relay:
        ready.put(relay.url)
        stop.wait()


def _median_ms(samples: List[float]) -> float:
    return statistics.median(samples) * 1e3


def _timed(f: Callable[[], Any], rounds: int) -> Dict[str, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        cpu, wall = time.thread_time(), time.perf_counter()
        out = f()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
        if isinstance(out, int):
            os.close(out)
        del out
    return {"wall": _median_ms(walls), "cpu": _median_ms(cpus)}


def _calls(url: str, tensors: Dict[str, Any], rounds: int, **options: Any) -> Dict[str, Any]:
    with Client(url, timeout=300.0, **options) as client:
        client.compress(**tensors)  # warm-up: the connection, the features probe, server buffers
        results = [client.compress(**tensors) for _ in range(rounds)]
    figures: Dict[str, Any] = {"transport": {r.transport for r in results}, "huge": all(r.huge_pages for r in results)}
    for key in results[0].client_timings:
        figures[key] = statistics.median(r.client_timings[key] for r in results)
    figures["call_ms"] = _median_ms([r.elapsed for r in results])
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", metavar="BIN", required=True, help="omnizip binary to start on a Unix socket")
    ap.add_argument("--request", required=True, type=Path, help="safetensors request (omnizip bench --emit PATH)")
    ap.add_argument("--rounds", type=int, default=20, help="requests per figure (default 20)")
    ap.add_argument("--workers", type=int, default=2, help="--workers for the server (default 2)")
    args = ap.parse_args(argv)

    arrays, metadata, dtypes = codec.decode(args.request.read_bytes(), bf16="bits")
    tensors: Dict[str, Any] = {name: BF16Bits(a) if dtypes[name] == "BF16" else a for name, a in arrays.items()}
    plan = codec.layout(tensors)
    print(f"request {args.request}: {plan.size / 1e6:.1f} MB; client CPU is this thread's (thread_time)")
    enc = _timed(lambda: codec.encode(tensors), args.rounds)
    mem = _timed(lambda: _memfd.from_layout(codec.layout(tensors)), args.rounds)
    print(f"write the request: codec.encode {enc['wall']:.1f} ms wall, {enc['cpu']:.1f} ms CPU; "
          f"into a sealed memfd {mem['wall']:.1f} ms wall, {mem['cpu']:.1f} ms CPU")
    fd, huge = _memfd.write(codec.layout(tensors), huge_pages=True)
    os.close(fd)
    if huge:
        big = _timed(lambda: _memfd.write(codec.layout(tensors), huge_pages=True)[0], args.rounds)
        print(f"                   into a sealed memfd in huge pages {big['wall']:.1f} ms wall, {big['cpu']:.1f} ms CPU")
    else:
        print("                   (no huge page free on this host: the memfd rows below are in 4 KiB pages)")

    params = {k: (int(v) if k in ("g", "audio_token_id", "video_token_id") else float(v)) for k, v in metadata.items()}
    request = dict(inputs_embeds=tensors["inputs_embeds"], input_ids=tensors["input_ids"],
                   audio_scores=tensors["audio_scores"], video_grid_thw=tensors["video_grid_thw"], **params)
    directory = tempfile.mkdtemp(prefix="oz-bench-")
    server = LocalServer(args.serve, "--workers", str(args.workers), unix_socket=os.path.join(directory, "omnizip.sock"),
                         tcp=True)
    relay: Optional[multiprocessing.Process] = None
    ready: "multiprocessing.Queue[str]" = multiprocessing.Queue()
    stop = multiprocessing.Event()
    try:
        assert server.unix_url is not None and server.tcp_url is not None
        memfd_url = server.unix_url
        if not advertises_memfd(ServerAddress.parse(server.unix_url).get("/v1/info", timeout=10)):
            relay = multiprocessing.Process(target=_relay, args=(server.tcp_url, ready, stop), daemon=True)
            relay.start()
            memfd_url = ready.get(timeout=30)
            print(f"{args.serve} takes no memfd bodies: memfd requests go through the test relay ({memfd_url})")
        for name, url, options in [("body (Unix socket)", server.unix_url, {"memfd": False}),
                                   ("memfd, 4 KiB pages", memfd_url, {"memfd_huge_pages": False}), ("memfd", memfd_url, {})]:
            f = _calls(url, request, args.rounds, **options)
            print(f"{name:>18}: {'/'.join(sorted(f['transport']))}{' in huge pages' if f['huge'] else ''}; encode {f['encode_ms']:.1f} ms wall, "
                  f"{f['encode_cpu_ms']:.1f} ms CPU; upload {f['upload_ms']:.1f} ms wall, {f['upload_cpu_ms']:.2f} ms CPU; "
                  f"whole call {f['call_ms']:.1f} ms", flush=True)
    finally:
        if relay is not None:
            stop.set()
            relay.join(timeout=10)
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
