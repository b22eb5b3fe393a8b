"""Run a local ``omnizip serve`` (for tests, benchmarks and demos).

>>> with LocalServer("/path/to/omnizip", "--workers", "2") as server:
...     client = Client(server.url)

Binds 127.0.0.1 on a free port (``--port 0``), reads the port from the ``listening`` log line,
waits for ``/readyz``, and on exit sends SIGTERM (the server drains) then SIGKILL if needed.
With ``unix_socket=PATH`` it listens on that socket instead (``url`` is then ``unix://PATH``),
or on both with ``tcp=True``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

import httpx

from .address import ServerAddress

__all__ = ["LocalServer", "find_binary"]


def find_binary(repo: Optional[Path] = None) -> Optional[str]:
    """``$OMNIZIP_BIN``, else ``<repo>/.build/release/omnizip``, else ``.build/debug/omnizip``."""
    env = os.environ.get("OMNIZIP_BIN")
    if env:
        return env if os.access(env, os.X_OK) else None
    if repo is None:
        return None
    for flavour in ("release", "debug"):
        path = Path(repo) / ".build" / flavour / "omnizip"
        if os.access(path, os.X_OK):
            return str(path)
    return None


class LocalServer:
    """``omnizip serve --host 127.0.0.1 --port 0 --log-format json`` plus ``args``; ready once constructed.

    ``url`` is the Unix socket's when there is one, else the TCP one; ``port`` is None without TCP.
    """

    def __init__(self, binary: str, *args: str, startup_timeout: float = 60.0, env: Optional[dict] = None,
                 unix_socket: Optional[str] = None, tcp: Optional[bool] = None) -> None:
        tcp = unix_socket is None if tcp is None else tcp
        listen = ["--host", "127.0.0.1", "--port", "0"] if tcp else []
        if unix_socket is not None:
            unix_socket = os.path.abspath(unix_socket)
            listen += ["--unix-socket", unix_socket]
        self.args: List[str] = [binary, "serve", *listen, "--log-format", "json", *args]
        self._log = tempfile.NamedTemporaryFile(prefix="omnizip-serve-", suffix=".log", delete=False)
        self.log_path = self._log.name
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)
        self.port = self._wait_for_port(startup_timeout)
        self.tcp_url = f"http://127.0.0.1:{self.port}" if self.port is not None else None
        self.unix_url = f"unix://{unix_socket}" if unix_socket is not None else None
        self.url = self.unix_url or self.tcp_url or ""
        self._wait_ready(startup_timeout)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def log_events(self) -> Sequence[dict]:
        events = []
        for line in self.log_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def _fail(self, why: str) -> None:
        self.stop()
        raise RuntimeError(f"{why}\ncommand: {' '.join(self.args)}\nlog:\n{self.log_text()[-4000:]}")

    def _wait_for_port(self, timeout: float) -> Optional[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.log_events():
                if event.get("msg") == "listening":
                    return int(event["port"]) if "port" in event else None
            if self.proc.poll() is not None:
                self._fail(f"omnizip serve exited with status {self.proc.returncode} before listening")
            time.sleep(0.02)
        self._fail("omnizip serve did not log its 'listening' line in time")
        raise AssertionError("unreachable")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        address = ServerAddress.parse(self.url)
        while time.monotonic() < deadline:
            try:
                if address.get("/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                self._fail(f"omnizip serve exited with status {self.proc.returncode}")
            time.sleep(0.05)
        self._fail("omnizip serve never became ready")

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        """SIGTERM (graceful drain), then SIGKILL after ``timeout``; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        return self.proc.returncode
