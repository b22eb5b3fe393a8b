#!/usr/bin/env python3
"""Overload runs against a real `omnizip serve` on loopback: what issue 9 measured.

    python3 scripts/load/overload.py --bin .build/release/omnizip SCENARIO [options]

Scenarios (each starts its own server on 127.0.0.1, is bounded in time and count, and prints
statuses, latency percentiles and the server's peak RSS):

  stalled     4 uploads that send headers, then one body byte a second, while 8 clients post
              small requests: counts the others' 429s (expected: none).
  uploads     64 concurrent 500 MB uploads against --max-buffered-bytes: how fast each refused
              one is answered after its headers, and the server's peak RSS.
  clip        32 clients posting the 60-second clip (62 MB) for 30 s while a probe polls
              /livez: statuses, 429s that came after a whole upload, /livez p50/p99, peak RSS.
  drain       10 runs: keep-alive connections with a request sent just after SIGTERM; counts
              requests that got no answer (reset or closed without a status line).
  resets      80 clients upload the clip and reset at once, while 2 clients keep both workers
              busy, under --max-buffered-bytes 1024 MiB (issue 21, D1): peak RSS, and what
              /v1/info still counts in flight afterwards (expected: within the budget plus
              the workers' scratch, and 0).

Only the standard library; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Server:
    """`omnizip serve` on a free loopback port; peak RSS from /proc (VmHWM)."""

    def __init__(self, binary: str, *args: str) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="omnizip-load-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "text", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.port = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.port:
            with open(self.log.name) as f:
                for line in f:
                    if "listening" in line and "port=" in line:
                        self.port = int(line.split("port=")[1].split()[0])
            time.sleep(0.05)
        if not self.port:
            raise RuntimeError(f"server did not start; see {self.log.name}")

    def logged(self, status: int, field: str) -> List[float]:
        """A numeric field (`duration_ms`, `bytes_in`) of the logged requests with `status`."""
        out = []
        with open(self.log.name) as f:
            for line in f:
                if f" status={status} " in line and f"{field}=" in line:
                    out.append(float(line.split(f"{field}=")[1].split()[0]))
        return out

    def durations_ms(self, status: int) -> List[float]:
        """Server-side durations (first byte to response written) of the logged requests with `status`."""
        out = []
        with open(self.log.name) as f:
            for line in f:
                if f" status={status} " in line and "duration_ms=" in line:
                    out.append(float(line.split("duration_ms=")[1].split()[0]))
        return out

    def peak_rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


async def read_status(reader: asyncio.StreamReader, timeout: float) -> Tuple[Optional[int], bytes]:
    """The status of the next response and its whole head+body (None: closed/reset first)."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, asyncio.LimitOverrunError):
        return None, b""
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    try:
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
        body = b""
    return status, head + body


def request_head(path: str, length: int, content_type: str = "application/octet-stream") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: load\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


SCORE = b'{"audio_scores":[0.1,0.5,0.2,0.9],"audio_chunk_lens":[2,2],"video_chunk_lens":[8,8],"tokens_per_frame":4}'


async def post_once(port: int, path: str, body: bytes, content_type: str, timeout: float) -> Tuple[Optional[int], float, bool]:
    """One request on its own connection: (status, seconds, whether the whole body was sent
    before the answer came)."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(read_status(reader, timeout))
    sent_all = False
    try:
        writer.write(request_head(path, len(body), content_type))
        view = memoryview(body)
        for i in range(0, len(body), 1 << 20):
            if answer.done():
                break
            writer.write(view[i:i + (1 << 20)])
            await writer.drain()
        else:
            sent_all = True
    except ConnectionError:
        pass
    status, _ = await answer
    writer.close()
    return status, time.monotonic() - start, sent_all


def report(name: str, statuses: Dict[str, int], latencies: List[float], extra: str = "") -> None:
    ordered = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    print(f"{name}: {ordered}")
    if latencies:
        print(f"  latency p50 {percentile(latencies, 50) * 1000:.1f} ms, p90 {percentile(latencies, 90) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms over {len(latencies)} requests")
    if extra:
        print("  " + extra)


# ---------------------------------------------------------------- scenarios


async def stalled(args: argparse.Namespace) -> None:
    server = Server(args.bin, "--workers", "2", "--max-inflight", "4")
    try:
        stallers = []
        for _ in range(4):
            r, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(request_head("/v1/compress", 1_000_000))
            stallers.append((r, w))

        async def drip() -> None:
            for _ in range(int(args.seconds)):
                for _, w in stallers:
                    if not w.is_closing():
                        w.write(b"\0")
                await asyncio.sleep(1)
            # From the server's log: the client side may see only the reset that follows its next byte.
            cut = len(server.logged(408, "duration_ms"))
            print(f"  stalled uploads cut off by --min-upload-rate (408 + close, server log): {cut} of {len(stallers)}")

        statuses: Dict[str, int] = {}
        latencies: List[float] = []
        deadline = time.monotonic() + args.seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                status, seconds, _ = await post_once(server.port, "/v1/score", SCORE, "application/json", 10)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                latencies.append(seconds)

        await asyncio.gather(drip(), *(client() for _ in range(8)))
        report(f"stalled: 4 uploads at 1 byte/s, 8 clients for {args.seconds:.0f} s", statuses, latencies,
               f"server peak RSS {server.peak_rss_mb():.0f} MiB")
        for _, w in stallers:
            w.close()
    finally:
        server.stop()


async def uploads(args: argparse.Namespace) -> None:
    size = args.upload_mb << 20
    budget = args.buffered_mb << 20
    server = Server(args.bin, "--workers", "2", "--max-buffered-bytes", str(budget), "--max-body-bytes", str(size))
    try:
        body = bytes(size)   # zeros: an admitted one is refused by the decoder after its upload

        async def one() -> Tuple[Optional[int], float, bool]:
            return await post_once(server.port, "/v1/compress", body, "application/octet-stream", 120)

        results = await asyncio.gather(*(one() for _ in range(args.uploads)))
        statuses: Dict[str, int] = {}
        for status, _, _ in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        refused = [s for status, s, _ in results if status == 429]
        served = server.durations_ms(429)
        report(f"uploads: {args.uploads} x {args.upload_mb} MB at once, --max-buffered-bytes {args.buffered_mb} MiB",
               statuses, [], f"refused: the server wrote each 429 p50 {percentile(served, 50):.2f} ms, max {max(served, default=float('nan')):.2f} ms "
               f"after its first byte; the client (one Python thread also pushing the admitted bodies) saw it "
               f"p50 {percentile(refused, 50) * 1000:.0f} ms, max {max(refused, default=float('nan')) * 1000:.0f} ms after connecting; "
               f"{sum(1 for status, _, sent_all in results if status == 429 and sent_all)} refused after a whole body; "
               f"server peak RSS {server.peak_rss_mb():.0f} MiB")
    finally:
        server.stop()


async def clip(args: argparse.Namespace) -> None:
    path = args.clip
    if not os.path.exists(path):
        subprocess.run([args.bin, "bench", "--emit", path], check=True, stdout=subprocess.DEVNULL)
    body = open(path, "rb").read()
    server = Server(args.bin, "--workers", str(args.workers))
    try:
        deadline = time.monotonic() + args.seconds
        statuses: Dict[str, int] = {}
        latencies: List[float] = []
        late_429 = 0
        probes: List[float] = []

        async def client() -> None:
            nonlocal late_429
            while time.monotonic() < deadline:
                status, seconds, sent_all = await post_once(server.port, "/v1/compress", body, "application/octet-stream", 300)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 200:
                    latencies.append(seconds)
                if status == 429 and sent_all:
                    late_429 += 1
                if status == 429:
                    await asyncio.sleep(1)   # Retry-After

        # The probe is a process of its own: inside this one it would time our event loop,
        # which is busy pushing 32 bodies, not the server.
        probe = subprocess.Popen([sys.executable, "-c", PROBE, str(server.port), str(args.seconds)], stdout=subprocess.PIPE, text=True)

        await asyncio.gather(*(client() for _ in range(args.clients)))
        probes = [float(x) for x in probe.communicate(timeout=60)[0].split()]
        refused_after_body = sum(1 for n in server.logged(429, "bytes_in") if n >= len(body))
        report(f"clip: {args.clients} clients posting the {len(body) >> 20} MB clip for {args.seconds:.0f} s", statuses, latencies,
               f"429 decided after a whole body (server log): {refused_after_body}; 429 read by a client that had "
               f"already written its whole body (the server drained it while lingering): {late_429}; /livez p50 {percentile(probes, 50) * 1000:.1f} ms, "
               f"p99 {percentile(probes, 99) * 1000:.1f} ms ({len(probes)} probes); server peak RSS {server.peak_rss_mb():.0f} MiB")
    finally:
        server.stop()


# GET /livez every 50 ms on one keep-alive connection; prints each latency in seconds.
PROBE = r"""
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    start = time.monotonic()
    s.sendall(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n")
    data = b""
    while not data.endswith(b'{"status":"ok"}\n'):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(1)
        data += chunk
    print(time.monotonic() - start, flush=True)
    time.sleep(0.05)
"""


async def drain(args: argparse.Namespace) -> None:
    unanswered = answered = 0
    statuses: Dict[str, int] = {}
    exits: Dict[int, int] = {}
    for run in range(args.runs):
        server = Server(args.bin, "--workers", "2")
        conns = []
        for _ in range(args.connections):
            r, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(b"GET /livez HTTP/1.1\r\nHost: load\r\n\r\n")
            status, _ = await read_status(r, 5)
            assert status == 200
            conns.append((r, w))
        server.proc.send_signal(signal.SIGTERM)
        # The next request is already on the wire when the server sees the signal.
        for i, (_, w) in enumerate(conns):
            w.write(b"GET /readyz HTTP/1.1\r\nHost: load\r\n\r\n" if i % 2 else request_head("/v1/score", len(SCORE), "application/json") + SCORE)
        for r, w in conns:
            status, _ = await read_status(r, 10)
            if status is None:
                unanswered += 1
            else:
                answered += 1
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            w.close()
        try:
            code = server.proc.wait(timeout=30)   # SIGTERM was sent: a second one would exit 130
        except subprocess.TimeoutExpired:
            code = server.stop()
        exits[code] = exits.get(code, 0) + 1
    report(f"drain: {args.runs} runs x {args.connections} keep-alive connections, a request sent at SIGTERM",
           statuses, [], f"answered {answered}, unanswered (reset or closed) {unanswered}; server exit codes {exits}")


async def resets(args: argparse.Namespace) -> None:
    path = args.clip
    if not os.path.exists(path):
        subprocess.run([args.bin, "bench", "--emit", path], check=True, stdout=subprocess.DEVNULL)
    body = open(path, "rb").read()
    server = Server(args.bin, "--workers", "2", "--max-buffered-bytes", str(1024 << 20), "--max-inflight", "100")
    try:
        busy_until = time.monotonic() + 60
        statuses: Dict[str, int] = {}

        async def busy() -> None:
            # Clip after clip on one connection, answers read as they come.
            r, w = await asyncio.open_connection("127.0.0.1", server.port)
            while time.monotonic() < busy_until and not stop.is_set():
                w.write(request_head("/v1/compress", len(body)) + body)
                await w.drain()
                status, _ = await read_status(r, 60)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            w.close()

        async def upload_and_reset() -> None:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", server.port)
                w.write(request_head("/v1/compress", len(body)) + body)
                await w.drain()
                await asyncio.sleep(0.2)
                sock = w.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                w.transport.abort()
            except OSError:
                pass

        stop = asyncio.Event()
        busy_tasks = [asyncio.create_task(busy()) for _ in range(2)]
        await asyncio.sleep(2)
        for start in range(0, args.resets, 8):
            await asyncio.gather(*(upload_and_reset() for _ in range(min(8, args.resets - start))))
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*busy_tasks)
        await asyncio.sleep(1)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(b"GET /v1/info HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n")
        data = await r.read()
        info = json.loads(data.split(b"\r\n\r\n", 1)[1])
        report(f"resets: {args.resets} clients upload the {len(body) >> 20} MB clip and reset beside 2 busy clients, --max-buffered-bytes 1024 MiB",
               statuses, [], f"afterwards inflight {info['inflight']}, queued {info['queued']}; server peak RSS {server.peak_rss_mb():.0f} MiB")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["stalled", "uploads", "clip", "drain", "resets", "all"])
    parser.add_argument("--bin", default=".build/release/omnizip")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--clip", default="bench-data/clip-60s.safetensors")
    parser.add_argument("--uploads", type=int, default=64)
    parser.add_argument("--upload-mb", type=int, default=500)
    parser.add_argument("--buffered-mb", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--resets", type=int, default=80)
    args = parser.parse_args()
    scenarios = ["stalled", "uploads", "clip", "drain", "resets"] if args.scenario == "all" else [args.scenario]
    for name in scenarios:
        asyncio.run(globals()[name](args))


if __name__ == "__main__":
    main()
