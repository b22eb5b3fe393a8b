"""A stand-in for a server that takes memfd bodies: a Unix-socket relay in front of a real one.

Until ``omnizip serve`` itself takes them, the memfd transport is tested end to end through
this relay: it accepts connections on a Unix socket, receives each request head with its
descriptors (``socket.recv_fds``), checks a memfd request the way the server will (exactly
one descriptor, the four seals, the size against ``Omnizip-Memfd-Length``, an empty body),
reads the memfd and forwards the request to the real server over TCP as an ordinary body,
then relays the answer back byte for byte. ``GET /v1/info`` gets ``"features":
["memfd-body"]`` added (unless ``advertise=False``). Anything the client got wrong is
recorded in ``problems`` and answered 400, so a test sees it either way.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

import httpx

from helpers import ServerProcess

from omnizip_client._memfd import SEALS

MEMFD_TYPE = "application/vnd.omnizip.memfd"

#: A scripted answer: raw response bytes, CLOSE (drop the connection unanswered) or HANG
#: (never answer; wait for the client to close).
CLOSE = "close"
HANG = "hang"
Script = Union[bytes, str]

# Not forwarded: they describe this hop, or would let the upstream encode its answer.
_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding",
        "omnizip-memfd-length"}


def http_response(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}",
            "X-Request-Id: relay-scripted", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def error_response(status: str, code: str, message: str, *headers: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message, "request_id": "relay-scripted"}}).encode()
    return http_response(status, body, *headers)


class _Refused(Exception):
    def __init__(self, answer: bytes) -> None:
        super().__init__(answer)
        self.answer = answer


class MemfdRelay:
    """``url`` (``unix://...``) relays to ``upstream`` (``http://127.0.0.1:PORT``).

    ``advertise``: list ``memfd-body`` in ``/v1/info``. ``script(...)`` queues answers for the
    next memfd requests instead of forwarding them.
    """

    def __init__(self, upstream: str, *, advertise: bool = True) -> None:
        self.upstream_url = upstream
        self.advertise = advertise
        self.dir = tempfile.mkdtemp(prefix="oz-relay-")  # short: a socket path has at most 107 bytes
        self.path = os.path.join(self.dir, "relay.sock")
        self.url = f"unix://{self.path}"
        self.memfd_requests = 0
        self.body_requests = 0
        self.info_requests = 0
        #: Sizes of the memfds received, in order; the last memfd request's method, target, headers.
        self.memfd_sizes: List[int] = []
        self.last_memfd_request: Tuple[str, str, List[Tuple[str, str]]] = ("", "", [])
        self.problems: List[str] = []
        self._scripts: Deque[Script] = deque()
        self._lock = threading.Lock()
        self._open = 0
        self._upstream = httpx.Client(base_url=upstream, timeout=120.0, trust_env=False,
                                      limits=httpx.Limits(max_keepalive_connections=0))
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    # -- test controls ----------------------------------------------------------------------

    def script(self, *answers: Script) -> None:
        """Answer the next memfd requests with these, in order (then forward again)."""
        with self._lock:
            self._scripts.extend(answers)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self._upstream.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

    def __enter__(self) -> "MemfdRelay":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _problem(self, what: str) -> "_Refused":
        with self._lock:
            self.problems.append(what)
        return _Refused(error_response("400 Bad Request", "invalid_descriptor", what))

    def _serve(self, conn: socket.socket) -> None:
        buffered = b""
        fds: List[int] = []
        try:
            while True:
                while b"\r\n\r\n" not in buffered:
                    data, received, flags, _ = socket.recv_fds(conn, 1 << 16, 8)
                    fds += received
                    if flags & socket.MSG_CTRUNC:
                        self._problem("descriptors were truncated (more than 8 sent)")  # recorded for the test
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers: List[Tuple[str, str]] = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]  # type: ignore[misc]
                named = {k.lower(): v for k, v in headers}
                length = int(named.get("content-length", "0"))
                while len(buffered) < length:
                    data, received, _, _ = socket.recv_fds(conn, 1 << 20, 8)
                    if received:
                        fds += received
                        self._problem("descriptors came with body bytes, not with the head")
                    if not data:
                        return
                    buffered += data
                body, buffered = buffered[:length], buffered[length:]
                mine, fds = fds, []
                answer = self._answer(method, target, headers, named, body, mine)
                if answer == CLOSE:
                    return
                if answer == HANG:
                    while conn.recv(1 << 16):
                        pass  # until the client gives up and closes
                    return
                assert isinstance(answer, bytes)
                conn.sendall(answer)
                if named.get("connection", "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()
            with self._lock:
                self._open -= 1

    def _answer(self, method: str, target: str, headers: List[Tuple[str, str]], named: Dict[str, str], body: bytes,
                fds: List[int]) -> Script:
        try:
            if named.get("content-type", "").split(";")[0].strip().lower() != MEMFD_TYPE:
                if fds:
                    raise self._problem(f"{len(fds)} descriptors came with an ordinary {method} {target}")
                with self._lock:
                    if target.startswith("/v1/info"):
                        self.info_requests += 1
                    elif method == "POST":
                        self.body_requests += 1
                return self._forward(method, target, headers, body, None)
            with self._lock:
                self.memfd_requests += 1
                self.last_memfd_request = (method, target, headers)
                scripted = self._scripts.popleft() if self._scripts else None
            contents = self._read_memfd(named, body, fds)
            if scripted is not None:
                return scripted
            return self._forward(method, target, headers, contents, "application/octet-stream")
        except _Refused as refused:
            return refused.answer
        finally:
            for fd in fds:
                os.close(fd)

    def _read_memfd(self, named: Dict[str, str], body: bytes, fds: List[int]) -> bytes:
        """The memfd's contents; raises _Refused (a 400 answer, also in ``problems``) for what is wrong."""
        if len(fds) != 1:
            raise self._problem(f"{len(fds)} descriptors came with a memfd request; expected exactly one")
        if named.get("content-length") != "0" or body:
            raise self._problem(f"a memfd request must have Content-Length: 0, got {named.get('content-length')!r}")
        declared = named.get("omnizip-memfd-length", "")
        if not declared.isdigit():
            raise self._problem(f"Omnizip-Memfd-Length is {declared!r}")
        fd = fds[0]
        if not os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:"):
            raise self._problem(f"the descriptor is {os.readlink(f'/proc/self/fd/{fd}')}, not a memfd")
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        if seals & SEALS != SEALS:
            raise self._problem(f"the memfd's seals are {seals:#x}, not all of {SEALS:#x}")
        info = os.fstat(fd)
        size = int(declared)
        # A huge-page memfd is the body rounded up to whole huge pages (its st_blksize; the
        # server asks fstatfs whether it is hugetlbfs, which Python cannot).
        page = info.st_blksize if info.st_blksize > 4096 else 1
        if info.st_size != -(-size // page) * page:
            raise self._problem(f"the memfd holds {info.st_size} bytes and Omnizip-Memfd-Length says {declared}")
        with self._lock:
            self.memfd_sizes.append(size)
        chunks = []
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def _forward(self, method: str, target: str, headers: List[Tuple[str, str]], body: bytes,
                 content_type: Optional[str]) -> bytes:
        forwarded = [(k, v) for k, v in headers if k.lower() not in _HOP]
        if content_type is not None:
            forwarded = [(k, v) for k, v in forwarded if k.lower() != "content-type"] + [("Content-Type", content_type)]
        response = self._upstream.request(method, target, headers=forwarded, content=body)
        content = response.content
        if self.advertise and target.startswith("/v1/info") and response.is_success:
            doc = response.json()
            doc["features"] = [*doc.get("features", []), "memfd-body"]
            content = json.dumps(doc).encode()
        kept = [f"{k}: {v}" for k, v in response.headers.multi_items() if k.lower() not in _HOP]
        head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}", *kept, f"Content-Length: {len(content)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + content


def relay_in_front_of(server: ServerProcess, **options: Any) -> MemfdRelay:
    assert server.tcp_url is not None
    return MemfdRelay(server.tcp_url, **options)


@dataclass
class MemfdBackend:
    """What the memfd tests talk to (the ``memfd_backend`` fixture): ``relay`` or ``native``."""

    name: str
    url: str
    #: The relay, for tests that look at what arrived (None for the native server).
    relay: Optional[MemfdRelay]
