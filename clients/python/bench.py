#!/usr/bin/env python3
"""Load test: N concurrent clients POST the same request to /v1/compress for T seconds.

    # the standard 60 s clip (30 chunks, D = 3584, BF16, 62 MB):
    .build/release/omnizip bench --emit bench-data/clip-60s.safetensors
    python clients/python/bench.py --serve .build/release/omnizip --workers 2 \\
        --request bench-data/clip-60s.safetensors --clients 1 2 8 --seconds 20
    # or against a running server:
    python clients/python/bench.py --url http://127.0.0.1:8080 --request ... --clients 4

Each client is a thread with its own keep-alive connection (omnizip_client.Client) that posts
back to back. Latency is end to end as a caller sees it (upload, queue, compression,
download, and any 429 retry waits; ``--retries 0`` counts 429s as errors instead). Prints,
per client count: requests/s, prompt tokens/s (and kept tokens/s), p50/p90/p99 latency in ms,
the server's own compress time, 429s absorbed by retrying, and failed requests by code.
Bounded: each run stops after ``--seconds`` (requests in flight then are finished, not
counted towards the next run).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from omnizip_client import Client, OmniZipError
from omnizip_client.local_server import LocalServer


@dataclass
class Sample:
    latencies: List[float] = field(default_factory=list)
    server_ms: List[float] = field(default_factory=list)
    tokens: int = 0
    kept: int = 0
    retried: int = 0
    errors: Counter = field(default_factory=Counter)


def _worker(url: str, body: bytes, retries: int, deadline: Dict[str, float], barrier: threading.Barrier,
            out: Sample, lock: threading.Lock) -> None:
    local = Sample()
    with Client(url, timeout=300.0, retries=retries, max_retry_wait=60.0) as client:
        try:
            client.compress_bytes(body)  # warm-up: connection, server buffers
        except OmniZipError:
            pass
        barrier.wait()  # all warmed up; the main thread has set the deadline
        stop_at = deadline["stop_at"]
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                result = client.compress_bytes(body)
            except OmniZipError as e:
                local.errors[e.code] += 1
                local.retried += max(0, e.attempts - 1)
                continue
            local.latencies.append(time.perf_counter() - t0)
            local.server_ms.append(result.timings.get("compress", float("nan")))
            local.tokens += result.counts.total
            local.kept += result.counts.kept
            local.retried += result.attempts - 1
    with lock:
        out.latencies += local.latencies
        out.server_ms += local.server_ms
        out.tokens += local.tokens
        out.kept += local.kept
        out.retried += local.retried
        out.errors.update(local.errors)


def run(url: str, body: bytes, clients: int, seconds: float, retries: int) -> Dict[str, Any]:
    """One timed run with ``clients`` threads; returns the figures."""
    sample = Sample()
    lock = threading.Lock()
    deadline: Dict[str, float] = {}

    def open_gate() -> None:  # runs once all have arrived, before any is released
        deadline["start"] = time.monotonic()
        deadline["stop_at"] = deadline["start"] + seconds

    barrier = threading.Barrier(clients + 1, action=open_gate)
    threads = [threading.Thread(target=_worker, args=(url, body, retries, deadline, barrier, sample, lock))
               for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()  # returns once every client is warmed up
    for t in threads:
        t.join()
    wall = time.monotonic() - deadline["start"]
    n = len(sample.latencies)
    lat_ms = np.array(sample.latencies) * 1000.0

    def pct(q: float) -> float:
        return float(np.percentile(lat_ms, q)) if n else float("nan")

    server = np.array([x for x in sample.server_ms if x == x])
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": n,
        "requests_per_s": n / wall,
        "tokens_per_s": sample.tokens / wall,
        "kept_tokens_per_s": sample.kept / wall,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "server_compress_p50_ms": float(np.median(server)) if server.size else float("nan"),
        "retried_429": sample.retried,
        "errors": dict(sample.errors),
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = ap.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server")
    target.add_argument("--serve", metavar="BIN", help="start BIN serve on 127.0.0.1 (and stop it afterwards)")
    ap.add_argument("--workers", type=int, default=2, help="--workers for --serve (default 2)")
    ap.add_argument("--max-inflight", type=int, help="--max-inflight for --serve (default: the server's, 2 x workers)")
    ap.add_argument("--request", required=True, type=Path, help="safetensors request body (omnizip bench --emit PATH)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 8], help="client counts to run (default 1 2 8)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each run (default 20)")
    ap.add_argument("--retries", type=int, default=3, help="client retries on 429/503 (default 3, the client's default)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    body = args.request.read_bytes()
    server: Optional[LocalServer] = None
    if args.serve:
        extra = ["--workers", str(args.workers)]
        if args.max_inflight:
            extra += ["--max-inflight", str(args.max_inflight)]
        server = LocalServer(args.serve, *extra)
    url = server.url if server else args.url
    try:
        with Client(url) as c:
            info = c.info()
        print(f"server {url}: version {info.get('version')}, workers {info.get('workers')}, "
              f"max_inflight {info.get('limits', {}).get('max_inflight')}; "
              f"request {args.request} ({len(body) / 1e6:.1f} MB)")
        header = f"{'clients':>7} {'req/s':>7} {'tokens/s':>10} {'kept tok/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} " \
                 f"{'srv ms':>7} {'429s':>5} {'errors':>6}"
        print(header)
        rows = []
        for n in args.clients:
            row = run(url, body, n, args.seconds, args.retries)
            rows.append(row)
            errors = sum(row["errors"].values())
            print(f"{n:>7} {row['requests_per_s']:>7.2f} {row['tokens_per_s']:>10.0f} {row['kept_tokens_per_s']:>10.0f} "
                  f"{row['p50_ms']:>8.1f} {row['p90_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['server_compress_p50_ms']:>7.1f} "
                  f"{row['retried_429']:>5} {errors:>6}" + (f"  {row['errors']}" if errors else ""), flush=True)
        if args.json:
            figures = {"url": url, "request": str(args.request), "bytes": len(body), "runs": rows}
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
