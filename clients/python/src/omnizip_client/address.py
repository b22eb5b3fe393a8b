"""Where the server listens, from a base URL: ``http://host:port`` or ``unix:///path/to/socket``.

A ``unix:`` URL (``omnizip serve --unix-socket PATH``) names the socket file; the HTTP
requests then go over it to the origin ``http://localhost``, through an httpx transport bound
to the socket. Everything above the transport (pooling, retries, errors) is the same.
"""

from __future__ import annotations

import socket as _socket
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

import httpx

__all__ = ["ServerAddress"]

#: The origin requests carry over a Unix socket (the server ignores the Host header).
UNIX_ORIGIN = "http://localhost"

#: The send buffer asked for on a Unix-socket connection. A Unix stream socket has no window
#: that grows: the sender's buffer (about 208 KiB by default) bounds what is in flight, so a
#: 62 MB body crossed in hundreds of small hand-overs and the socket was slower than TCP
#: loopback (237 against 183 ms for the one-minute clip); with 4 MiB it was faster (166-173
#: against 183-210 ms). The kernel caps the value at net.core.wmem_max.
UNIX_SEND_BUFFER = 4 << 20

#: httpx socket options for a Unix-socket connection.
UNIX_SOCKET_OPTIONS = [(_socket.SOL_SOCKET, _socket.SO_SNDBUF, UNIX_SEND_BUFFER)]


@dataclass(frozen=True)
class ServerAddress:
    """``url`` as given; ``origin`` what requests are addressed to; ``socket`` the socket path or None."""

    url: str
    origin: str
    socket: Optional[str] = None

    @classmethod
    def parse(cls, url: str) -> "ServerAddress":
        """``http(s)://...`` unchanged; ``unix:///abs/path`` or ``unix:relative/path`` to a socket.

        Raises ValueError for ``unix://name/...``: the part after ``//`` would be a host, which
        a socket has none of; a socket URL needs three slashes before an absolute path.
        """
        if not url.lower().startswith("unix:"):
            return cls(url=url, origin=url)
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc or not path or parts.query or parts.fragment:
            raise ValueError(f"invalid Unix socket URL {url!r}: expected unix:///absolute/path/to/socket")
        return cls(url=url, origin=UNIX_ORIGIN, socket=path)

    def transport(self, **kwargs: Any) -> Optional[httpx.HTTPTransport]:
        """A transport bound to the socket (``kwargs`` as for httpx.HTTPTransport); None for TCP."""
        if self.socket is None:
            return None
        return httpx.HTTPTransport(uds=self.socket, **self._socket_kwargs(kwargs))

    def async_transport(self, **kwargs: Any) -> Optional[httpx.AsyncHTTPTransport]:
        """The same for httpx.AsyncClient."""
        if self.socket is None:
            return None
        return httpx.AsyncHTTPTransport(uds=self.socket, **self._socket_kwargs(kwargs))

    @staticmethod
    def _socket_kwargs(kwargs: dict) -> dict:
        """``kwargs`` with the Unix send buffer added to any socket options given."""
        return {**kwargs, "socket_options": [*kwargs.get("socket_options", ()), *UNIX_SOCKET_OPTIONS]}

    def get(self, path: str, timeout: float) -> httpx.Response:
        """One GET on a connection of its own (probes), ``path`` under the base URL."""
        with httpx.Client(base_url=self.origin, transport=self.transport(), timeout=timeout, trust_env=False) as http:
            return http.get(path)
