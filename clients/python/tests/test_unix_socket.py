"""``unix:///path`` base URLs: the sync and async clients against ``omnizip serve --unix-socket``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import anyio
import httpx
import pytest

from helpers import GOLDEN_DIR, ServerProcess, assert_parity, golden_cases, load_golden

from omnizip_client import AsyncClient, Client, ServerAddress, TransportError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def unix_server(omnizip_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Listening only on a socket: no TCP port to fall back on."""
    path = tmp_path_factory.mktemp("sock") / "omnizip.sock"
    proc = ServerProcess(omnizip_bin, "--workers", "2", unix_socket=str(path))
    try:
        yield proc
    finally:
        proc.stop()


def test_the_server_listens_only_on_the_socket(unix_server: ServerProcess) -> None:
    assert unix_server.port is None and unix_server.tcp_url is None
    assert unix_server.url.startswith("unix:///") and unix_server.url.endswith("/omnizip.sock")
    listening = next(e for e in unix_server.log_events() if e.get("msg") == "listening")
    assert listening["address"] == "unix:" + unix_server.url[len("unix://"):]


def test_sync_client_over_the_socket(unix_server: ServerProcess) -> None:
    g = load_golden(golden_cases()[0])
    with Client(unix_server.url, retries=0) as client:
        assert client.live() and client.ready()
        assert "limits" in client.info()
        result = client.compress(g.embeds, g.request["input_ids"], g.request["audio_scores"], g.request["video_grid_thw"],
                                 **g.params())
        assert_parity(result, g)
        plan = client.score(g.request["audio_scores"], input_ids=g.request["input_ids"],
                            video_grid_thw=g.request["video_grid_thw"], **g.params())
        assert plan.counts.kept_audio == result.counts.kept_audio
        assert "omnizip_http_request_duration_seconds_count" in client.metrics()


def test_socket_connections_ask_for_a_large_send_buffer(unix_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Unix stream socket's send buffer bounds what is in flight: the default made a 62 MB
    # body slower over the socket than over TCP loopback.
    import socket

    from omnizip_client.address import UNIX_SEND_BUFFER

    buffers: list = []

    class Recording(socket.socket):
        def setsockopt(self, *args: Any) -> None:
            super().setsockopt(*args)
            if args[:2] == (socket.SOL_SOCKET, socket.SO_SNDBUF):
                buffers.append(self.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    monkeypatch.setattr(socket, "socket", Recording)
    with Client(unix_server.url, retries=0) as client:
        assert client.live()
    cap = int(Path("/proc/sys/net/core/wmem_max").read_text())
    assert buffers == [2 * min(UNIX_SEND_BUFFER, cap)]  # Linux reports twice what it grants


@pytest.mark.anyio
async def test_async_client_over_the_socket(unix_server: ServerProcess) -> None:
    names = golden_cases()[:6]
    results: dict = {}
    async with AsyncClient(unix_server.url, max_connections=4) as client:
        assert await client.ready()

        async def one(name: str) -> None:
            results[name] = await client.compress_bytes(load_golden(name).body)

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(one, name)
    assert sorted(results) == sorted(names)
    for name, result in results.items():
        assert_parity(result, load_golden(name))


def test_tcp_and_socket_give_the_same_bytes(omnizip_bin: str, tmp_path: Path) -> None:
    body = load_golden(golden_cases()[1]).body
    with ServerProcess(omnizip_bin, "--workers", "1", unix_socket=str(tmp_path / "both.sock"), tcp=True) as both:
        assert both.port is not None
        with Client(both.tcp_url) as tcp, Client(both.unix_url) as unix:
            assert unix.compress_bytes(body).body == tcp.compress_bytes(body).body


def test_curl_equivalent_prints_unix_socket(unix_server: ServerProcess, tmp_path: Path) -> None:
    name = "public-bf16-b"
    out = tmp_path / "response.safetensors"
    done = subprocess.run([sys.executable, str(EXAMPLES / "curl_equivalent.py"), str(GOLDEN_DIR / f"{name}.request.safetensors"),
                           "--url", unix_server.url, "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    socket = unix_server.url[len("unix://"):]
    assert f"--unix-socket {socket} " in done.stdout and "http://localhost/v1/compress" in done.stdout
    assert "kept 310 of 667" in done.stdout and out.stat().st_size > 0


def test_a_missing_socket_is_a_connect_error(tmp_path: Path) -> None:
    with Client(f"unix://{tmp_path}/absent.sock", retries=0, timeout=5.0) as client:
        assert not client.live()
        with pytest.raises(TransportError) as info:
            client.info()
    assert info.value.code == "connect_error"


@pytest.mark.parametrize("url,socket", [
    ("unix:///run/omnizip/omnizip.sock", "/run/omnizip/omnizip.sock"),
    ("unix:/run/omnizip/omnizip.sock", "/run/omnizip/omnizip.sock"),
    ("UNIX:///tmp/a%20b.sock", "/tmp/a b.sock"),
    ("unix:relative.sock", "relative.sock"),
])
def test_unix_urls_name_the_socket(url: str, socket: str) -> None:
    address = ServerAddress.parse(url)
    assert address.socket == socket and address.origin == "http://localhost"
    with Client(url) as client:
        assert client.base_url == url and client.address.socket == socket


def test_http_urls_are_unchanged() -> None:
    address = ServerAddress.parse("http://127.0.0.1:8080")
    assert address.socket is None and address.origin == "http://127.0.0.1:8080" and address.transport() is None


@pytest.mark.parametrize("url", ["unix://run/omnizip.sock", "unix://", "unix:///s.sock?x=1"])
def test_malformed_unix_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unix:///"):
        Client(url)


def test_a_socket_url_and_a_transport_conflict() -> None:
    with pytest.raises(ValueError, match="give one"):
        Client("unix:///tmp/x.sock", transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(ValueError, match="give one"):
        AsyncClient("unix:///tmp/x.sock", transport=httpx.MockTransport(lambda r: httpx.Response(200)))


def test_omnizip_url_may_name_a_socket(unix_server: ServerProcess, monkeypatch: Any) -> None:
    monkeypatch.setenv("OMNIZIP_URL", unix_server.url)
    with Client() as client:
        assert client.address.socket == unix_server.url[len("unix://"):] and client.ready()
