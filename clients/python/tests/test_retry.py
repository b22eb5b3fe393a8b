"""Retries: 429 with Retry-After against a --max-inflight 1 server; transport failures."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, List

import httpx
import pytest

from helpers import TIGHT_BODY_MEMORY, ServerProcess, assert_parity, golden_cases, load_golden

from omnizip_client import AsyncClient, Client, OverloadedError, RetryPolicy, TimeoutError, TransportError


class SlotHolder:
    """Takes all of the tight server's body memory: a POST that declares --max-buffered-bytes
    and never sends a byte of it (no body byte, so no upload-rate check; only the request
    timeout ends it)."""

    def __init__(self, server: ServerProcess) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        self.sock.sendall(b"POST /v1/compress HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n"
                          b"Content-Length: %d\r\n\r\n" % TIGHT_BODY_MEMORY)
        deadline = time.monotonic() + 10
        while httpx.get(server.url + "/v1/info").json()["inflight"] < 1:
            assert time.monotonic() < deadline, "the slot holder was never admitted"
            time.sleep(0.01)

    def release(self) -> None:
        self.sock.close()


@pytest.fixture
def holder(tight_server: ServerProcess) -> Iterator[SlotHolder]:
    h = SlotHolder(tight_server)
    try:
        yield h
    finally:
        h.release()
        deadline = time.monotonic() + 10
        while httpx.get(tight_server.url + "/v1/info").json()["inflight"] > 0 and time.monotonic() < deadline:
            time.sleep(0.01)


def test_no_retries_raises_overloaded(tight_server: ServerProcess, holder: SlotHolder) -> None:
    g = load_golden(golden_cases()[0])
    with Client(tight_server.url, retries=0) as c:
        with pytest.raises(OverloadedError) as info:
            c.compress_bytes(g.body)
        err = info.value
        assert err.status == 429 and err.code == "too_many_requests"
        assert err.request_id and err.retry_after == 1.0 and err.attempts == 1
        with pytest.raises(OverloadedError) as info:
            c.compress_bytes(g.body, request_id="overload-42")
        assert info.value.request_id == "overload-42"


def test_wait_budget_bounds_retrying(tight_server: ServerProcess, holder: SlotHolder) -> None:
    """Retry-After 1 s does not fit a 0.5 s budget: raised at once, whatever the retry count."""
    g = load_golden(golden_cases()[0])
    start = time.monotonic()
    with Client(tight_server.url, retries=10, max_retry_wait=0.5) as c, pytest.raises(OverloadedError) as info:
        c.compress_bytes(g.body)
    assert info.value.attempts == 1 and time.monotonic() - start < 1.0


def test_retry_count_bounds_retrying(tight_server: ServerProcess, holder: SlotHolder) -> None:
    g = load_golden(golden_cases()[0])
    with Client(tight_server.url, retries=1, max_retry_wait=10) as c, pytest.raises(OverloadedError) as info:
        c.compress_bytes(g.body)
    assert info.value.attempts == 2


def test_retry_after_succeeds(tight_server: ServerProcess, holder: SlotHolder) -> None:
    """The slot frees 0.3 s after the first 429; the retry one Retry-After later succeeds."""
    g = load_golden(golden_cases()[0])
    threading.Timer(0.3, holder.release).start()
    start = time.monotonic()
    with Client(tight_server.url, retries=5, max_retry_wait=20) as c:
        result = c.compress_bytes(g.body)
    assert_parity(result, g)
    assert result.attempts >= 2 and time.monotonic() - start >= 0.9


def test_concurrent_big_requests_all_succeed(tight_server: ServerProcess) -> None:
    """Big requests at once against room for two bodies: 429s happen, and retrying absorbs them."""
    names = golden_cases()
    big = max(names, key=lambda n: len(load_golden(n).body))
    g = load_golden(big)
    n = 4
    barrier = threading.Barrier(n)
    with Client(tight_server.url, retries=30, max_retry_wait=120, timeout=120) as c:
        def one(_: int) -> Any:
            barrier.wait()
            return c.compress_bytes(g.body)

        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(one, range(n)))
    for r in results:
        assert_parity(r, g)
    assert sum(r.attempts for r in results) > n, "no request was ever refused: the test did not provoke a 429"


def test_concurrent_without_retries_overloads(tight_server: ServerProcess) -> None:
    names = golden_cases()
    g = load_golden(max(names, key=lambda n: len(load_golden(n).body)))
    n = 4
    barrier = threading.Barrier(n)
    with Client(tight_server.url, retries=0, timeout=120) as c:
        def one(_: int) -> Any:
            barrier.wait()
            try:
                return c.compress_bytes(g.body)
            except OverloadedError as e:
                return e

        with ThreadPoolExecutor(n) as pool:
            outcomes = list(pool.map(one, range(n)))
    errors = [o for o in outcomes if isinstance(o, OverloadedError)]
    assert errors and all(e.code == "too_many_requests" and e.request_id for e in errors)
    assert len(errors) < n  # someone got the slot


# ---------------------------------------------------------------- transport failures


class RawServer:
    """A loopback TCP server whose behaviour per connection is ``handler(conn)``; counts them."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.handler = handler
        self.conns: List[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.conns.append(conn)
            threading.Thread(target=self.handler, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def _read_and_reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _read_and_hang(conn: socket.socket) -> None:
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


FAST = dict(retry_policy=RetryPolicy(retries=3, max_wait=5, backoff=0.01))


def _read_answer_partly_and_reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nabc")
    time.sleep(0.05)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _read_and_close(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.close()


@pytest.mark.parametrize("handler", [_read_and_reset, _read_and_close])
def test_post_lost_before_any_response_byte_is_retried(handler: Callable[[socket.socket], None]) -> None:
    """Reset or closed with nothing answered (a draining server): repeating is safe."""
    raw = RawServer(handler)
    try:
        with Client(f"http://127.0.0.1:{raw.port}", **FAST) as c, pytest.raises(TransportError) as info:
            c.compress_bytes(b"x" * 1000)
        assert info.value.attempts == 4 and raw.connections == 4
    finally:
        raw.close()


def test_post_lost_after_the_response_began_is_not_retried() -> None:
    raw = RawServer(_read_answer_partly_and_reset)
    try:
        with Client(f"http://127.0.0.1:{raw.port}", **FAST) as c, pytest.raises(TransportError) as info:
            c.compress_bytes(b"x" * 1000)
        assert info.value.attempts == 1 and raw.connections == 1
    finally:
        raw.close()


@pytest.mark.anyio
async def test_async_post_lost_before_any_response_byte_is_retried() -> None:
    raw = RawServer(_read_and_reset)
    try:
        async with AsyncClient(f"http://127.0.0.1:{raw.port}", **FAST) as c:
            with pytest.raises(TransportError) as info:
                await c.compress_bytes(b"x" * 1000)
        assert info.value.attempts == 4 and raw.connections == 4
    finally:
        raw.close()


def test_get_is_retried_on_reset() -> None:
    raw = RawServer(_read_and_reset)
    try:
        with Client(f"http://127.0.0.1:{raw.port}", **FAST) as c, pytest.raises(TransportError) as info:
            c.info()
        assert info.value.attempts == 4 and raw.connections == 4
    finally:
        raw.close()


def test_read_timeout() -> None:
    raw = RawServer(_read_and_hang)
    try:
        with Client(f"http://127.0.0.1:{raw.port}", timeout=0.3, **FAST) as c, pytest.raises(TimeoutError) as info:
            c.compress_bytes(b"x" * 100)
        assert info.value.code == "timeout" and info.value.attempts == 1 and raw.connections == 1
    finally:
        raw.close()


def test_connect_failure_is_retried_for_post() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", **FAST) as c, pytest.raises(TransportError) as info:
        c.compress_bytes(b"x")
    assert info.value.code == "connect_error" and info.value.attempts == 4


def _scripted(responses: List[bytes]) -> Callable[[socket.socket], None]:
    """Answer the n-th connection with responses[n] (then close)."""
    lock = threading.Lock()
    state = {"n": 0}

    def handler(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        with lock:
            answer = responses[min(state["n"], len(responses) - 1)]
            state["n"] += 1
        conn.sendall(answer)
        conn.close()

    return handler


def _http(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close",
            "X-Request-Id: scripted", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


PLAN = (b'{"layout":"split","audio_keep":[0],"audio_chunk_retention":[],"video_chunk_ratio":[],"video_chunk_kept":[],'
        b'"kept_audio":1,"kept_video":0,"total_audio":1,"total_video":0,"total":1,"kept":1,"parameters":{"g":3}}')
DRAINING = b'{"error":{"code":"draining","message":"the server is shutting down","request_id":"scripted"}}'


def test_503_without_retry_after_backs_off_then_succeeds() -> None:
    """The server's draining 503 has no Retry-After: the client backs off exponentially."""
    raw = RawServer(_scripted([_http("503 Service Unavailable", DRAINING)] * 2 + [_http("200 OK", PLAN)]))
    try:
        with Client(f"http://127.0.0.1:{raw.port}", **FAST) as c:
            plan = c.score([1.0])
        assert plan.attempts == 3 and plan.audio_keep.tolist() == [0] and raw.connections == 3
    finally:
        raw.close()


def test_503_retry_after_is_honoured_and_bounded() -> None:
    raw = RawServer(_scripted([_http("503 Service Unavailable", DRAINING, "Retry-After: 0.2")]))
    try:
        start = time.monotonic()
        with Client(f"http://127.0.0.1:{raw.port}", retries=2, max_retry_wait=5) as c, pytest.raises(OverloadedError) as info:
            c.score([1.0])
        assert info.value.code == "draining" and info.value.status == 503 and info.value.attempts == 3
        assert info.value.retry_after == 0.2 and time.monotonic() - start >= 0.4
    finally:
        raw.close()
