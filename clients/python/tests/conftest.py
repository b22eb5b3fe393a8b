"""Session fixtures: real ``omnizip serve`` processes on loopback, golden cases.

The binary is ``$OMNIZIP_BIN``, else ``<repo>/.build/release/omnizip``, else
``<repo>/.build/debug/omnizip``. Without one the session fails (it never skips everything).
"""

from __future__ import annotations

import os
from typing import Iterator, List

import pytest

from helpers import GOLDEN_DIR, TIGHT_BODY_MEMORY, ServerProcess, find_binary, golden_cases

from omnizip_client import Client


@pytest.fixture(scope="session")
def omnizip_bin() -> str:
    binary = find_binary()
    if binary is None:
        pytest.fail("no omnizip binary: build it (swift build -c release) or set OMNIZIP_BIN", pytrace=False)
    return binary


def _start(binary: str, *args: str) -> ServerProcess:
    """Start a session server, or end the whole session with the reason (not one error per test)."""
    try:
        return ServerProcess(binary, *args)
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
