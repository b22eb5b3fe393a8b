"""When to retry, and how long to wait.

One logical call may take ``1 + retries`` attempts, and sleeps at most ``max_wait`` seconds
in total between them:

- 429 and 503 are retried after the server's ``Retry-After`` (exponential backoff if absent);
  when the next wait would exceed the remaining budget, the overload error is raised at once.
- Transport failures are retried only when repeating is safe: any failure of an idempotent
  GET; for POST, failures that prove the request never reached the server (connect refused or
  timed out, no free pooled connection), and a connection closed or reset before any response
  byte arrived (a server draining, or one that answered a refused upload early and closed):
  nothing was answered, and every omnizip endpoint is a pure function of its body.
- Everything else (4xx, other 5xx, failures after the response began) is raised at once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Optional

import httpx

__all__ = ["RetryPolicy", "RetryState", "NEVER_SENT", "ANSWERED", "mark_answered", "mark_answered_async"]

# httpx exceptions raised before any request byte reached the server.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Transport failures worth repeating for an idempotent request.
_TRANSIENT = (httpx.TransportError,)
# The connection failed under the request; repeated only when no response had begun.
_CONNECTION_LOST = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)

#: Set on a request's extensions once its response head arrived (see ``mark_answered``).
ANSWERED = "omnizip.answered"


def mark_answered(response: httpx.Response) -> None:
    """httpx response hook: the head of a response arrived for this request."""
    response.request.extensions[ANSWERED] = True


async def mark_answered_async(response: httpx.Response) -> None:
    mark_answered(response)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts, ``max_wait`` seconds of total sleeping, backoff bounds."""

    retries: int = 3
    max_wait: float = 30.0
    backoff: float = 0.1
    max_backoff: float = 5.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.retries < 0 or self.max_wait < 0 or self.backoff < 0:
            raise ValueError("retries, max_wait and backoff must be >= 0")


@dataclass
class RetryState:
    """Book-keeping for one logical call."""

    policy: RetryPolicy
    idempotent: bool
    attempts: int = 0
    waited: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def _budgeted(self, delay: float) -> Optional[float]:
        if self.attempts > self.policy.retries:
            return None
        delay *= 1.0 + random.uniform(0.0, self.policy.jitter)
        if self.waited + delay > self.policy.max_wait:
            return None
        return delay

    def _backoff(self) -> float:
        return min(self.policy.max_backoff, self.policy.backoff * (2 ** max(0, self.attempts - 1)))

    def delay_after_status(self, status: int, retry_after: Optional[float]) -> Optional[float]:
        """Seconds to sleep before the next attempt, or None to give up."""
        if status not in (429, 503):
            return None
        return self._budgeted(retry_after if retry_after is not None else self._backoff())

    def delay_after_exception(self, exc: BaseException, answered: bool = False) -> Optional[float]:
        """``answered``: the response head had arrived when the failure happened."""
        unanswered_loss = not answered and isinstance(exc, _CONNECTION_LOST)
        if isinstance(exc, NEVER_SENT) or unanswered_loss or (self.idempotent and isinstance(exc, _TRANSIENT)):
            return self._budgeted(self._backoff())
        return None

    def slept(self, delay: float) -> None:
        self.waited += delay
