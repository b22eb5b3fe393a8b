#!/usr/bin/env python3
"""POST golden cases to a running omnizip and compare the decisions (standard library only).

    golden_post.py (--url http://127.0.0.1:PORT | --unix-socket PATH [--memfd]) GOLDEN_DIR [--limit N]

For every NAME.request.safetensors (sorted; the first N with --limit): 200, and keep_mask,
merged_index, video_chunk_ratio and audio_chunk_retention byte-identical to
NAME.expected.safetensors (the parity rule of ../shared/golden/README.md, as
scripts/smoke-server.sh applies it). One line per failing case; exit 1 if any failed.
With --memfd each request goes as a descriptor body: a sealed memfd passed with SCM_RIGHTS on
the request's head (the README's "Descriptor bodies"), one connection per case.
"""
from __future__ import annotations

import argparse
import fcntl
import http.client
import json
import mmap
import os
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


SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL


def post_memfd(path: str, body: bytes, timeout: float, huge: bool = False) -> tuple[int, bytes]:
    fd = os.memfd_create("omnizip-golden", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING | (os.MFD_HUGETLB if huge else 0))
    try:
        if huge:  # a whole number of huge pages, written through a mapping (hugetlbfs has no write)
            page = os.fstat(fd).st_blksize
            size = -(-len(body) // page) * page
            os.ftruncate(fd, size)
            with mmap.mmap(fd, size) as mapping:
                mapping[: len(body)] = body
        else:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            head = ("POST /v1/compress HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.omnizip.memfd\r\n"
                    f"Omnizip-Memfd-Length: {len(body)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").encode()
            socket.send_fds(s, [head], [fd])
            r = http.client.HTTPResponse(s)
            r.begin()
            return r.status, r.read()
    finally:
        os.close(fd)


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
    ap.add_argument("--memfd", action="store_true", help="send each body as a sealed memfd (needs --unix-socket)")
    ap.add_argument("--huge-pages", action="store_true", help="with --memfd: memfds in huge pages (MFD_HUGETLB)")
    ap.add_argument("golden")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()

    if a.memfd and not a.unix_socket:
        ap.error("--memfd needs --unix-socket")
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
        if a.memfd:
            status, body = post_memfd(a.unix_socket, req.read_bytes(), 30, a.huge_pages)
        else:
            conn.request("POST", "/v1/compress", body=req.read_bytes(),
                         headers={"Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            status, body = r.status, r.read()
        if status != 200:
            bad += 1
            print(f"  {name}: HTTP {status}: {body[:200]!r}")
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
