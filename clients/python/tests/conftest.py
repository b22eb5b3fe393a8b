"""Session fixtures: real ``omnizip serve`` processes on loopback, golden cases.

The binary is ``$OMNIZIP_BIN``, else ``<repo>/.build/release/omnizip``, else
``<repo>/.build/debug/omnizip``. Without one the session fails (it never skips everything).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterator, List

import pytest

from helpers import GOLDEN_DIR, TIGHT_BODY_MEMORY, ServerProcess, find_binary, golden_cases
from memfd_relay import MemfdBackend, MemfdRelay, relay_in_front_of

from omnizip_client import Client, ServerAddress
from omnizip_client._protocol import advertises_memfd


@pytest.fixture(scope="session")
def omnizip_bin() -> str:
    binary = find_binary()
    if binary is None:
        pytest.fail("no omnizip binary: build it (swift build -c release) or set OMNIZIP_BIN", pytrace=False)
    return binary


def _start(binary: str, *args: str, **kwargs: Any) -> ServerProcess:
    """Start a session server, or end the whole session with the reason (not one error per test)."""
    try:
        return ServerProcess(binary, *args, **kwargs)
    except RuntimeError as e:
        pytest.exit(f"cannot start the test server ({binary}): {e}", returncode=3)
        raise


@pytest.fixture(scope="session")
def server(omnizip_bin: str) -> Iterator[ServerProcess]:
    """The main server: roomy admission so concurrency tests never see 429."""
    proc = _start(omnizip_bin, "--workers", "2", "--max-inflight", "64")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def tight_server(omnizip_bin: str) -> Iterator[ServerProcess]:
    """One complete request queued at a time and 40 MB of body memory: a request that does not
    fit gets 429 + Retry-After from its headers."""
    proc = _start(omnizip_bin, "--workers", "1", "--max-inflight", "1", "--max-buffered-bytes", str(TIGHT_BODY_MEMORY))
    try:
        yield proc
    finally:
        proc.stop()


# ---------------------------------------------------------------- memfd bodies
#
# The memfd transport is tested against two backends: "relay" (tests/memfd_relay.py in front of
# the session server: checks what the client sends, forwards it as an ordinary body) and
# "native" (``omnizip serve --unix-socket`` itself). A binary that does not list memfd-body in
# /v1/info skips the native cases with that reason; OMNIZIP_REQUIRE_NATIVE_MEMFD=1 makes it a
# failure instead (for CI once the server side has landed).

MEMFD_BACKENDS = ["relay", "native"]


@pytest.fixture(scope="session")
def native_memfd_server(omnizip_bin: str) -> Iterator[ServerProcess]:
    """The binary on a Unix socket (and TCP), roomy like ``server``."""
    directory = tempfile.mkdtemp(prefix="oz-native-")  # a socket path has at most 107 bytes
    proc = _start(omnizip_bin, "--workers", "2", "--max-inflight", "64", unix_socket=os.path.join(directory, "omnizip.sock"),
                  tcp=True)
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def memfd_relay(server: ServerProcess) -> Iterator[MemfdRelay]:
    """A relay that takes memfd bodies in front of the session server; fails the test on any
    protocol mistake it saw."""
    with relay_in_front_of(server) as relay:
        yield relay
        assert not relay.problems, relay.problems


@pytest.fixture(params=MEMFD_BACKENDS)
def memfd_backend(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[MemfdBackend]:
    if request.param == "relay":
        with relay_in_front_of(server) as relay:
            yield MemfdBackend("relay", relay.url, relay)
            assert not relay.problems, relay.problems
        return
    native: ServerProcess = request.getfixturevalue("native_memfd_server")
    assert native.unix_url is not None
    if not advertises_memfd(ServerAddress.parse(native.unix_url).get("/v1/info", timeout=10.0)):
        reason = (f"{native.args[0]} does not list memfd-body in /v1/info features (issue 22's server side is not "
                  f"in this binary)")
        if os.environ.get("OMNIZIP_REQUIRE_NATIVE_MEMFD") == "1":
            pytest.fail(reason + "; OMNIZIP_REQUIRE_NATIVE_MEMFD=1 requires it", pytrace=False)
        pytest.skip(reason)
    yield MemfdBackend("native", native.unix_url, None)


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url, timeout=120.0, retries=2) as c:
        yield c


@pytest.fixture(scope="session")
def cases() -> List[str]:
    names = golden_cases()
    assert names, f"no golden cases in {GOLDEN_DIR}"
    return names


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_report_header(config: pytest.Config) -> List[str]:
    return [f"omnizip binary: {find_binary()}", f"golden cases: {GOLDEN_DIR} ({len(golden_cases())})",
            f"OMNIZIP_URL: {os.environ.get('OMNIZIP_URL', '(unset)')}"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Never succeed having passed no test (everything skipped or deselected)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
    if exitstatus == 0 and passed == 0:
        session.exitstatus = 1
