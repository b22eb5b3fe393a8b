"""Request bodies as sealed memfds over the Unix socket, end to end.

Tests taking ``memfd_backend`` run against the relay and against the binary's own memfd
support (skipped, with the reason, while the binary lacks it; see conftest.py). Tests taking
``memfd_relay`` look at what arrived, or script the answers, and need the relay.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import anyio
import httpx
import numpy as np
import pytest

from helpers import ServerProcess, assert_parity, golden_cases, load_golden, needs_huge_pages
from memfd_relay import CLOSE, HANG, MemfdBackend, MemfdRelay, error_response, relay_in_front_of
from test_retry import SlotHolder

from omnizip_client import AsyncClient, Client, ClientError, OverloadedError, RetryPolicy, TimeoutError, TransportError

CASES = golden_cases()
MIB = 1 << 20
#: Golden requests on either side of the default threshold.
SMALL = min(CASES, key=lambda n: len(load_golden(n).body))
LARGE = next(n for n in sorted(CASES, key=lambda n: len(load_golden(n).body)) if len(load_golden(n).body) >= MIB)
FAST = RetryPolicy(retries=3, max_wait=5, backoff=0.01)


def arrays(name: str) -> Dict[str, Any]:
    g = load_golden(name)
    r = g.request
    return dict(inputs_embeds=g.embeds, input_ids=r["input_ids"], audio_scores=r["audio_scores"],
                video_grid_thw=r["video_grid_thw"], **g.params())


def fds() -> List[str]:
    """This process's open descriptors, by what they point at."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return out


def settled(relay: Any, expected: int = -1, timeout: float = 10.0) -> int:
    """The descriptor count once the relay (threads of this process) is down to the client
    pool's connection, and (given ``expected``) the count is that or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (relay is None or relay.open_connections <= 1) and (expected < 0 or len(fds()) <= expected):
            break
        time.sleep(0.02)
    return len(fds())


# ---------------------------------------------------------------- results over either backend


@pytest.mark.parametrize("name", CASES)
def test_golden_arrays_over_memfd_equal_the_ordinary_body(memfd_backend: MemfdBackend, server: ServerProcess,
                                                          name: str) -> None:
    """Every golden case (threshold 0: the small ones too) gives the ordinary path's answer, byte for byte."""
    with Client(memfd_backend.url, memfd_threshold=0, timeout=120) as memfd, Client(server.url, timeout=120) as plain:
        got = memfd.compress(**arrays(name))
        want = plain.compress(**arrays(name))
    assert got.transport == "memfd" and want.transport == "body"
    assert got.body == want.body
    assert_parity(got, load_golden(name))
    assert {"encode_ms", "encode_cpu_ms", "upload_ms", "upload_cpu_ms"} <= set(got.client_timings)


@pytest.mark.parametrize("name", [LARGE, "public-bf16-b"])
def test_compress_bytes_and_return_embeds_over_memfd(memfd_backend: MemfdBackend, server: ServerProcess,
                                                     name: str) -> None:
    g = load_golden(name)
    with Client(memfd_backend.url, memfd_threshold=0) as memfd, Client(server.url) as plain:
        got = memfd.compress_bytes(g.body, return_embeds=True, request_id="bytes-over-memfd")
        want = plain.compress_bytes(g.body, return_embeds=True)
    assert got.transport == "memfd" and got.request_id == "bytes-over-memfd"
    assert got.body == want.body and got.compressed_embeds.shape[0] == got.counts.kept
    assert_parity(got, g)


def test_split_layout_over_memfd(memfd_backend: MemfdBackend, server: ServerProcess) -> None:
    from omnizip_client._protocol import runs_of

    g = load_golden(LARGE)
    audio, video = g.positions("audio"), g.positions("video")
    params = {k: v for k, v in g.params().items() if not k.endswith("_token_id")}
    request = dict(audio_embeds=g.embeds[audio], video_embeds=g.embeds[video], audio_scores=g.request["audio_scores"],
                   video_grid_thw=g.request["video_grid_thw"], audio_chunk_lens=runs_of(audio),
                   video_chunk_lens=runs_of(video), return_embeds=True, **params)
    with Client(memfd_backend.url) as memfd, Client(server.url) as plain:
        got, want = memfd.compress(**request), plain.compress(**request)
    assert got.transport == "memfd" and got.layout == "split" and got.body == want.body


def test_torch_over_memfd(memfd_backend: MemfdBackend, server: ServerProcess) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed (optional; the tests never install it)")
    g = load_golden("public-bf16-b")
    r = g.request
    embeds = torch.from_numpy(r["inputs_embeds"].view(np.int16)).view(torch.bfloat16)
    request = dict(inputs_embeds=embeds, input_ids=torch.from_numpy(r["input_ids"]),
                   audio_scores=torch.from_numpy(r["audio_scores"]), video_grid_thw=torch.from_numpy(r["video_grid_thw"]),
                   return_embeds=True, **g.params())
    with Client(memfd_backend.url, memfd_threshold=0) as memfd, Client(server.url) as plain:
        got, want = memfd.compress(**request), plain.compress(**request)
    assert got.transport == "memfd" and got.is_torch and got.merged_embeds.dtype == torch.bfloat16
    assert got.body == want.body


@pytest.mark.anyio
async def test_async_concurrent_requests_over_memfd(memfd_backend: MemfdBackend, server: ServerProcess) -> None:
    names = [CASES[i % len(CASES)] for i in range(0, 36, 3)]
    results: Dict[int, Any] = {}
    async with AsyncClient(memfd_backend.url, memfd_threshold=0, timeout=120, max_connections=4) as client:
        async def one(i: int) -> None:
            results[i] = await client.compress(**arrays(names[i]), request_id=f"async-memfd-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(len(names)):
                tg.start_soon(one, i)
        big = await client.compress_bytes(load_golden(LARGE).body)
    with Client(server.url) as plain:
        for i, name in enumerate(names):
            got = results[i]
            assert got.transport == "memfd" and got.request_id == f"async-memfd-{i}"
            assert got.body == plain.compress(**arrays(name)).body
        assert big.transport == "memfd" and big.body == plain.compress_bytes(load_golden(LARGE).body).body
    if memfd_backend.relay is not None:
        assert memfd_backend.relay.info_requests == 1, "features are asked for once per client"


def test_score_goes_as_json(memfd_backend: MemfdBackend, server: ServerProcess) -> None:
    """/v1/score's request is a small JSON, never a memfd; its plan is the ordinary one."""
    g = load_golden(LARGE)
    r = g.request
    request = dict(input_ids=r["input_ids"], video_grid_thw=r["video_grid_thw"], **g.params())
    with Client(memfd_backend.url, memfd_threshold=0) as memfd, Client(server.url) as plain:
        got, want = memfd.score(r["audio_scores"], **request), plain.score(r["audio_scores"], **request)
        assert memfd.compress(**arrays(LARGE)).counts.kept_audio == got.counts.kept_audio
    assert got.transport == "body" and got.raw == want.raw
    assert {"upload_ms", "upload_cpu_ms"} <= set(got.client_timings)


def test_only_bodies_of_a_mebibyte_or_more_use_a_memfd(memfd_backend: MemfdBackend) -> None:
    small_body = load_golden(SMALL).body
    assert len(small_body) < MIB <= len(load_golden(LARGE).body)
    with Client(memfd_backend.url) as client:
        transports = [client.compress(**arrays(SMALL)).transport, client.compress(**arrays(LARGE)).transport,
                      client.compress_bytes(small_body).transport]
    assert transports == ["body", "memfd", "body"]
    with Client(memfd_backend.url, memfd_threshold=len(small_body)) as client:
        assert client.compress_bytes(small_body).transport == "memfd"  # the threshold is inclusive
    with Client(memfd_backend.url, memfd=False) as client:
        assert client.compress(**arrays(LARGE)).transport == "body"
    relay = memfd_backend.relay
    if relay is not None:
        assert len(relay.memfd_sizes) == 2 and relay.memfd_sizes[1] == len(small_body)
        assert relay.body_requests == 3


def _call(i: int, good: Dict[str, Any]) -> Tuple[str, tuple, Dict[str, Any]]:
    """The i-th of the many calls: a quarter are each kind of refusal."""
    if i % 4 == 1:
        return "compress", (), dict(good, rho_audio=7.0)  # 400 invalid_parameter
    if i % 4 == 2:
        return "compress_bytes", (b"\x08" + b"\x00" * 15 + b"not json",), {}  # 400 invalid_safetensors
    return "compress", (), good


def _outcome(result: Any) -> str:
    return result.code if isinstance(result, ClientError) else result.transport


EXPECTED_OUTCOMES = {"memfd": 100, "invalid_parameter": 50, "invalid_safetensors": 50}


def test_descriptors_stay_balanced_over_many_calls(memfd_backend: MemfdBackend) -> None:
    """200 calls, successes and refusals, leave no memfd and no socket behind."""
    relay = memfd_backend.relay
    good = arrays(SMALL)
    outcomes: Counter = Counter()
    with Client(memfd_backend.url, memfd_threshold=0, retry_policy=FAST) as client:
        client.compress(**good)  # the pool's connection and the features probe, before counting
        before = settled(relay)
        for i in range(200):
            name, args, kwargs = _call(i, good)
            try:
                outcomes[_outcome(getattr(client, name)(*args, **kwargs))] += 1
            except ClientError as e:
                outcomes[_outcome(e)] += 1
        assert settled(relay, before) == before, sorted(fds())
    assert outcomes == EXPECTED_OUTCOMES
    assert not [link for link in fds() if "omnizip-request" in link]


@pytest.mark.anyio
async def test_async_descriptors_stay_balanced_over_many_calls(memfd_backend: MemfdBackend) -> None:
    relay = memfd_backend.relay
    good = arrays(SMALL)
    outcomes: Counter = Counter()
    async with AsyncClient(memfd_backend.url, memfd_threshold=0, retry_policy=FAST) as client:
        await client.compress(**good)
        before = settled(relay)
        for i in range(200):
            name, args, kwargs = _call(i, good)
            try:
                outcomes[_outcome(await getattr(client, name)(*args, **kwargs))] += 1
            except ClientError as e:
                outcomes[_outcome(e)] += 1
        assert settled(relay, before) == before, sorted(fds())
    assert outcomes == EXPECTED_OUTCOMES
    assert not [link for link in fds() if "omnizip-request" in link]


# ---------------------------------------------------------------- what arrives (relay)


def test_the_memfd_request_head(memfd_relay: MemfdRelay) -> None:
    g = load_golden(LARGE)
    with Client(memfd_relay.url, headers={"X-Extra": "1"}) as client:
        result = client.compress_bytes(g.body, rho_audio=0.25, request_id="head-1")
    method, target, headers = memfd_relay.last_memfd_request
    named = {k.lower(): v for k, v in headers}
    assert (method, target) == ("POST", "/v1/compress?rho_audio=0.25")
    assert named["content-type"] == "application/vnd.omnizip.memfd"
    assert named["content-length"] == "0" and named["omnizip-memfd-length"] == str(len(g.body))
    assert named["host"] == "localhost" and named["x-request-id"] == "head-1" and named["x-extra"] == "1"
    assert named["user-agent"] == "omnizip-client-python" and named["accept"] == "*/*"
    assert memfd_relay.memfd_sizes == [len(g.body)] and result.attempts == 1


def test_an_injected_429_is_retried_with_the_memfd_again(memfd_relay: MemfdRelay) -> None:
    memfd_relay.script(error_response("429 Too Many Requests", "too_many_requests", "full", "Retry-After: 0.1"))
    g = load_golden(LARGE)
    start = time.monotonic()
    with Client(memfd_relay.url, retries=2) as client:
        result = client.compress_bytes(g.body)
    assert result.transport == "memfd" and result.attempts == 2 and time.monotonic() - start >= 0.1
    assert memfd_relay.memfd_sizes == [len(g.body)] * 2
    assert_parity(result, g)


@pytest.mark.anyio
async def test_async_429_is_retried_with_the_memfd_again(memfd_relay: MemfdRelay) -> None:
    memfd_relay.script(error_response("503 Service Unavailable", "insufficient_memory", "later", "Retry-After: 0.05"),
                       error_response("429 Too Many Requests", "too_many_requests", "full", "Retry-After: 0.05"))
    async with AsyncClient(memfd_relay.url, retries=3) as client:
        result = await client.compress(**arrays(LARGE))
    assert result.transport == "memfd" and result.attempts == 3 and len(memfd_relay.memfd_sizes) == 3


def test_429s_beyond_the_retries_raise(memfd_relay: MemfdRelay) -> None:
    before = settled(memfd_relay)
    memfd_relay.script(*[error_response("429 Too Many Requests", "too_many_requests", "full", "Retry-After: 0.01")] * 3)
    with Client(memfd_relay.url, retries=2) as client, pytest.raises(OverloadedError) as info:
        client.compress(**arrays(LARGE))
    assert info.value.attempts == 3 and info.value.code == "too_many_requests"
    assert settled(memfd_relay, before) == before


def test_a_real_429_from_a_full_server_is_retried_over_memfd(tight_server: ServerProcess) -> None:
    """The tight server's slot is held: 429 + Retry-After 1 s; freed 0.3 s later, the retry succeeds."""
    g = load_golden(LARGE)
    with relay_in_front_of(tight_server) as relay:
        holder = SlotHolder(tight_server)
        threading.Timer(0.3, holder.release).start()
        with Client(relay.url, retries=5, max_retry_wait=20) as client:
            result = client.compress_bytes(g.body)
        assert not relay.problems
    assert result.transport == "memfd" and result.attempts >= 2 and len(relay.memfd_sizes) == result.attempts
    assert_parity(result, g)
    deadline = time.monotonic() + 10
    while httpx.get(tight_server.url + "/v1/info").json()["inflight"] > 0 and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_a_connection_dropped_unanswered_is_retried_then_raised(memfd_relay: MemfdRelay, client_kind: str) -> None:
    memfd_relay.script(CLOSE)
    before = settled(memfd_relay)
    request = arrays(LARGE)

    async def run_async() -> Any:
        async with AsyncClient(memfd_relay.url, retry_policy=FAST) as c:
            first = await c.compress(**request)
            memfd_relay.script(*[CLOSE] * 4)
            with pytest.raises(TransportError) as info:
                await c.compress(**request)
            return first, info.value

    if client_kind == "sync":
        with Client(memfd_relay.url, retry_policy=FAST) as c:
            first = c.compress(**request)
            memfd_relay.script(*[CLOSE] * 4)
            with pytest.raises(TransportError) as info:
                c.compress(**request)
        first, error = first, info.value
    else:
        first, error = anyio.run(run_async)
    assert first.transport == "memfd" and first.attempts == 2
    assert error.attempts == 4 and error.code == "transport_error"
    assert len(memfd_relay.memfd_sizes) == 6
    assert settled(memfd_relay, before) == before


def test_a_silent_server_times_out(memfd_relay: MemfdRelay) -> None:
    before = settled(memfd_relay)
    memfd_relay.script(HANG)
    with Client(memfd_relay.url, timeout=0.3, retry_policy=FAST) as client, pytest.raises(TimeoutError) as info:
        client.compress(**arrays(LARGE))
    assert info.value.code == "timeout" and info.value.attempts == 1
    assert settled(memfd_relay, before) == before


@pytest.mark.anyio
async def test_async_silent_server_times_out(memfd_relay: MemfdRelay) -> None:
    memfd_relay.script(HANG)
    async with AsyncClient(memfd_relay.url, timeout=0.3, retry_policy=FAST) as client:
        with pytest.raises(TimeoutError) as info:
            await client.compress(**arrays(LARGE))
    assert info.value.code == "timeout"


@pytest.mark.anyio
async def test_async_waits_for_the_socket_to_take_the_descriptor(memfd_relay: MemfdRelay,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A sendmsg that would block is retried once the loop says the socket is writable."""
    real = socket.send_fds
    blocked: List[int] = []

    def once_blocking(sock: socket.socket, buffers: Any, fds_: Any, *args: Any) -> int:
        if not blocked:
            blocked.append(1)
            raise BlockingIOError
        return real(sock, buffers, fds_, *args)

    monkeypatch.setattr(socket, "send_fds", once_blocking)
    async with AsyncClient(memfd_relay.url) as client:
        result = await client.compress(**arrays(LARGE))
    assert blocked and result.transport == "memfd" and memfd_relay.memfd_requests == 1


# ---------------------------------------------------------------- falling back


def test_a_server_without_the_feature_gets_ordinary_bodies(server: ServerProcess) -> None:
    with relay_in_front_of(server, advertise=False) as relay, Client(relay.url) as client:
        results = [client.compress(**arrays(LARGE)) for _ in range(3)]
        assert [r.transport for r in results] == ["body"] * 3
        assert relay.info_requests == 1 and relay.memfd_requests == 0 and relay.body_requests == 3


#: What a server older than the feature answers a memfd request (the release before issue 22).
OLD_SERVER_415 = error_response(
    "415 Unsupported Media Type", "unsupported_media_type",
    "Content-Type 'application/vnd.omnizip.memfd' is not accepted by /v1/compress; send application/octet-stream or "
    "application/x-safetensors")


def test_a_415_is_remembered(memfd_relay: MemfdRelay) -> None:
    """A 415 unsupported_media_type to a memfd request: the call is sent again as an ordinary
    body, and so is every later one."""
    memfd_relay.script(OLD_SERVER_415)
    with Client(memfd_relay.url) as client:
        first = client.compress(**arrays(LARGE))
        second = client.compress_bytes(load_golden(LARGE).body)
    assert (first.transport, first.attempts) == ("body", 2) and (second.transport, second.attempts) == ("body", 1)
    assert memfd_relay.memfd_requests == 1 and memfd_relay.body_requests == 2
    assert_parity(first, load_golden(LARGE))


@pytest.mark.anyio
async def test_async_415_is_remembered(memfd_relay: MemfdRelay) -> None:
    memfd_relay.script(OLD_SERVER_415)
    async with AsyncClient(memfd_relay.url) as client:
        first = await client.compress(**arrays(LARGE))
        second = await client.compress(**arrays(LARGE))
    assert (first.transport, second.transport) == ("body", "body") and memfd_relay.memfd_requests == 1


def test_other_4xx_to_a_memfd_request_are_errors(memfd_relay: MemfdRelay) -> None:
    """Only unsupported_media_type means "no memfds here"; a 415 saying anything else is raised."""
    memfd_relay.script(error_response("415 Unsupported Media Type", "unsupported_content_encoding", "no"))
    with Client(memfd_relay.url) as client:
        with pytest.raises(ClientError) as info:
            client.compress(**arrays(LARGE))
        assert info.value.status == 415 and client.compress(**arrays(LARGE)).transport == "memfd"


def test_a_failed_probe_means_ordinary_bodies_without_asking_again(memfd_relay: MemfdRelay,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with Client(memfd_relay.url) as client:
        probes: List[str] = []
        real_get = client._http.get

        def failing_get(url: str, **kwargs: Any) -> httpx.Response:
            probes.append(url)
            raise httpx.ConnectError("refused")

        monkeypatch.setattr(client._http, "get", failing_get)
        assert [client.compress(**arrays(LARGE)).transport for _ in range(3)] == ["body"] * 3
        monkeypatch.setattr(client._http, "get", real_get)
        assert probes == ["/v1/info"] and memfd_relay.memfd_requests == 0


def test_no_memfd_where_memfd_create_is_missing(memfd_relay: MemfdRelay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "memfd_create")
    with Client(memfd_relay.url) as client:
        assert client.compress(**arrays(LARGE)).transport == "body"
    assert memfd_relay.info_requests == 0 and memfd_relay.memfd_requests == 0


def test_a_memfd_that_cannot_be_made_sends_the_body(memfd_relay: MemfdRelay, monkeypatch: pytest.MonkeyPatch) -> None:
    """memfd_create refused (a sandbox, the descriptor limit): that call goes as an ordinary body."""
    real = os.memfd_create

    def refused(*args: Any) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "memfd_create", refused)
    with Client(memfd_relay.url) as client:
        assert client.compress(**arrays(LARGE)).transport == "body"
        monkeypatch.setattr(os, "memfd_create", real)
        assert client.compress(**arrays(LARGE)).transport == "memfd"


def test_tcp_urls_never_ask_for_features(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    with Client(server.url, memfd_threshold=0) as client:
        probes: List[Any] = []
        original = client._http.get

        def counting_get(*args: Any, **kwargs: Any) -> httpx.Response:
            probes.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(client._http, "get", counting_get)
        assert client.compress(**arrays(LARGE)).transport == "body" and probes == []


# ---------------------------------------------------------------- huge pages


def test_huge_page_memfds_answer_as_the_body_does(memfd_backend: MemfdBackend, server: ServerProcess) -> None:
    """Where the host has huge pages free, the client puts the body in them; the server (and
    the relay) take a memfd a whole number of huge pages long. memfd_huge_pages=False keeps
    to 4 KiB pages."""
    needs_huge_pages()
    with Client(memfd_backend.url) as memfd, Client(memfd_backend.url, memfd_huge_pages=False) as small, \
            Client(server.url) as plain:
        huge, four_k, want = memfd.compress(**arrays(LARGE)), small.compress(**arrays(LARGE)), plain.compress(**arrays(LARGE))
    assert (huge.transport, huge.huge_pages) == ("memfd", True)
    assert (four_k.transport, four_k.huge_pages) == ("memfd", False)
    assert (want.transport, want.huge_pages) == ("body", False)
    assert huge.body == want.body == four_k.body
