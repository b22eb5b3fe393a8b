#!/usr/bin/env python3
"""POST golden cases to a running omnizip and compare the decisions (standard library only).

    golden_post.py (--url http://127.0.0.1:PORT | --unix-socket PATH) GOLDEN_DIR [--limit N]

For every NAME.request.safetensors (sorted; the first N with --limit): 200, and keep_mask,
merged_index, video_chunk_ratio and audio_chunk_retention byte-identical to
NAME.expected.safetensors (the parity rule of ../shared/golden/README.md, as
scripts/smoke-server.sh applies it). One line per failing case; exit 1 if any failed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import struct
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

EXACT = ("keep_mask", "merged_index", "video_chunk_ratio", "audio_chunk_retention")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def tensors(raw: bytes) -> dict[str, bytes]:
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    return {k: raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]] for k, v in header.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--url")
    g.add_argument("--unix-socket")
    ap.add_argument("golden")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()

    if a.url:
        u = urlparse(a.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    else:
        conn = UnixHTTPConnection(a.unix_socket, timeout=30)
    cases = sorted(Path(a.golden).glob("*.request.safetensors"))
    if a.limit:
        cases = cases[: a.limit]
    if not cases:
        print(f"no golden cases in {a.golden}")
        return 1
    bad = 0
    t0 = time.monotonic()
    for req in cases:
        name = req.name[: -len(".request.safetensors")]
        conn.request("POST", "/v1/compress", body=req.read_bytes(),
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            bad += 1
            print(f"  {name}: HTTP {r.status}: {body[:200]!r}")
            continue
        got, want = tensors(body), tensors(req.with_name(name + ".expected.safetensors").read_bytes())
        diff = [k for k in EXACT if k in want and got.get(k) != want[k]]
        if diff:
            bad += 1
            print(f"  {name}: differs in {', '.join(diff)}")
    print(f"{len(cases) - bad}/{len(cases)} golden cases identical ({', '.join(EXACT)}) "
          f"in {time.monotonic() - t0:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
