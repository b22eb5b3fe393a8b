"""Exceptions. Every failure the client raises is an :class:`OmniZipError`.

- :class:`ClientError` (HTTP 4xx except 429): the request is wrong; retrying will not help.
- :class:`OverloadedError` (429 and 503): the server is full or draining; retried
  automatically with ``Retry-After``, raised when the retry budget is spent.
- :class:`ServerError` (other 5xx): a server fault.
- :class:`TransportError` (no HTTP answer: connect failure, reset, timeout), with
  :class:`TimeoutError` for timeouts; ``status`` is None.
- :class:`ProtocolError`: a 2xx answer the client cannot parse.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

__all__ = [
    "OmniZipError",
    "ClientError",
    "OverloadedError",
    "ServerError",
    "TransportError",
    "TimeoutError",
    "ProtocolError",
    "error_from_response",
]


class OmniZipError(Exception):
    """Base class: ``code``, ``message``, ``status`` (None without an HTTP answer), ``request_id``."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: Optional[int] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts = attempts

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request_id:
            parts.append(f"request_id {self.request_id}")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        return parts[0] + (" (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else "")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
                f"request_id={self.request_id!r}, message={self.message!r})")


class ClientError(OmniZipError):
    """HTTP 4xx (not 429): bad parameter, malformed body, wrong path, body too large..."""


class OverloadedError(OmniZipError):
    """HTTP 429 or 503: retry later (``retry_after`` seconds, when the server said)."""


class ServerError(OmniZipError):
    """HTTP 5xx other than 503."""


class TransportError(OmniZipError):
    """No HTTP answer: connection refused or reset, or a timeout."""


class TimeoutError(TransportError):  # noqa: A001 - deliberately shadows the builtin inside this module
    """Connect, write, read or pool timeout."""


class ProtocolError(OmniZipError):
    """A success response whose body is not what the API promises."""


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(0.0, seconds) if seconds == seconds else None
    except ValueError:
        pass
    try:
        import email.utils
        import time

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def error_from_response(status: int, headers: Mapping[str, str], body: bytes, attempts: int = 1) -> OmniZipError:
    """Build the exception for a non-2xx response from its JSON error body (or its text)."""
    code = f"http_{status}"
    message = ""
    request_id = headers.get("x-request-id")
    try:
        doc: Any = json.loads(body.decode("utf-8")) if body else None
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or "")
            request_id = str(err.get("request_id") or request_id or "") or None
    except (UnicodeDecodeError, ValueError):
        pass
    if not message:
        message = body[:500].decode("utf-8", "replace").strip() or f"HTTP {status} with no body"
    if status in (429, 503):
        kind: type = OverloadedError
    elif 400 <= status < 500:
        kind = ClientError
    elif status >= 500:
        kind = ServerError
    else:
        kind = ProtocolError
    error: OmniZipError = kind(message, code=code, status=status, request_id=request_id,
                               retry_after=parse_retry_after(headers.get("retry-after")), attempts=attempts)
    return error
