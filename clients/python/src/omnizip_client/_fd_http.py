"""One HTTP/1.1 exchange on a Unix socket with a descriptor attached to the request head.

httpx cannot send ancillary data, so a memfd request goes here: a fresh ``AF_UNIX``
connection, the head (built by h11 from the ``httpx.Request`` the client prepared, so its
headers are the ordinary request's) sent by one ``sendmsg`` carrying the descriptor with
SCM_RIGHTS, then the response read with h11 and handed back as an ``httpx.Response``, so that
parsing, errors and retries are the client's usual ones.

One connection per request, closed after the response: connecting to a Unix socket costs about
10 µs (measured) next to milliseconds of compression, and a pool would need its own handling
of idle connections the server closed. Failures raise the httpx exception of the same
meaning (``ConnectError``, ``WriteTimeout``, ``ReadError``...) with ``request`` set, and the
request is marked answered once a response head arrived, as the retry rules expect.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Awaitable, List, Optional, Tuple, Type, TypeVar

import h11
import httpx

from .retry import ANSWERED

__all__ = ["exchange", "exchange_async"]

_READ_CHUNK = 1 << 16
T = TypeVar("T")


def _head(request: httpx.Request) -> Tuple[h11.Connection, bytes]:
    """An h11 client connection that has sent ``request`` (no body), and the head's bytes."""
    conn = h11.Connection(our_role=h11.CLIENT)
    head = conn.send(h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw))
    conn.send(h11.EndOfMessage())
    return conn, head


class _Reader:
    """Turns received bytes into the ``httpx.Response`` (h11 does the HTTP/1.1 parsing)."""

    def __init__(self, conn: h11.Connection, request: httpx.Request) -> None:
        self.conn = conn
        self.request = request
        self.head: Optional[h11.Response] = None
        self.body: List[bytes] = []

    def feed(self, data: bytes) -> Optional[httpx.Response]:
        """Take ``data`` (b"" at EOF); the response once complete, else None."""
        self.conn.receive_data(data)
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(f"malformed response: {exc}", request=self.request) from exc
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Response):
                self.head = event
                self.request.extensions[ANSWERED] = True
            elif isinstance(event, h11.Data):
                self.body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert self.head is not None
                return httpx.Response(self.head.status_code, headers=self.head.headers, content=b"".join(self.body),
                                      request=self.request,
                                      extensions={"http_version": b"HTTP/" + self.head.http_version,
                                                  "reason_phrase": self.head.reason})
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection before the response ended",
                                                request=self.request)
            # InformationalResponse (100 Continue): nothing to do


def _error(kind: Type[httpx.TransportError], request: httpx.Request, exc: BaseException) -> httpx.TransportError:
    return kind(f"{exc}" or type(exc).__name__, request=request)


def exchange(path: str, request: httpx.Request, fd: int, timeout: httpx.Timeout) -> httpx.Response:
    """Send ``request`` (empty body) with ``fd`` attached on a new connection to the socket ``path``."""
    conn, head = _head(request)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.settimeout(timeout.connect)
            sock.connect(path)
        except socket.timeout as exc:
            raise _error(httpx.ConnectTimeout, request, exc) from exc
        except OSError as exc:
            raise _error(httpx.ConnectError, request, exc) from exc
        try:
            sock.settimeout(timeout.write)
            sent = socket.send_fds(sock, [head], [fd])
            if sent < len(head):
                sock.sendall(head[sent:])
        except socket.timeout as exc:
            raise _error(httpx.WriteTimeout, request, exc) from exc
        except OSError as exc:
            raise _error(httpx.WriteError, request, exc) from exc
        reader = _Reader(conn, request)
        sock.settimeout(timeout.read)
        while True:
            try:
                data = sock.recv(_READ_CHUNK)
            except socket.timeout as exc:
                raise _error(httpx.ReadTimeout, request, exc) from exc
            except OSError as exc:
                raise _error(httpx.ReadError, request, exc) from exc
            response = reader.feed(data)
            if response is not None:
                return response
    finally:
        sock.close()


async def exchange_async(path: str, request: httpx.Request, fd: int, timeout: httpx.Timeout) -> httpx.Response:
    """:func:`exchange` on the running asyncio loop, with non-blocking socket calls."""
    loop = asyncio.get_running_loop()
    conn, head = _head(request)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        try:
            await _within(loop.sock_connect(sock, path), timeout.connect)
        except asyncio.TimeoutError as exc:
            raise _error(httpx.ConnectTimeout, request, exc) from exc
        except OSError as exc:
            raise _error(httpx.ConnectError, request, exc) from exc
        try:
            sent = await _within(_send_fds(loop, sock, head, fd), timeout.write)
            if sent < len(head):
                await _within(loop.sock_sendall(sock, head[sent:]), timeout.write)
        except asyncio.TimeoutError as exc:
            raise _error(httpx.WriteTimeout, request, exc) from exc
        except OSError as exc:
            raise _error(httpx.WriteError, request, exc) from exc
        reader = _Reader(conn, request)
        while True:
            try:
                data = await _within(loop.sock_recv(sock, _READ_CHUNK), timeout.read)
            except asyncio.TimeoutError as exc:
                raise _error(httpx.ReadTimeout, request, exc) from exc
            except OSError as exc:
                raise _error(httpx.ReadError, request, exc) from exc
            response = reader.feed(data)
            if response is not None:
                return response
    finally:
        sock.close()


async def _within(step: Awaitable[T], seconds: Optional[float]) -> T:
    return await (step if seconds is None else asyncio.wait_for(step, seconds))


async def _send_fds(loop: asyncio.AbstractEventLoop, sock: socket.socket, head: bytes, fd: int) -> int:
    """One non-blocking ``sendmsg`` with the descriptor, waiting for writability while it would block
    (the loop has no ``sock_sendmsg``)."""
    while True:
        try:
            return socket.send_fds(sock, [head], [fd])
        except (BlockingIOError, InterruptedError):
            await _writable(loop, sock)


async def _writable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    ready: "asyncio.Future[None]" = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_writer(sock.fileno())
