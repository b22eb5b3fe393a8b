"""Talking to the omnizip sidecar: readiness, the compress call, and its errors.

Every failure becomes a :class:`SidecarError` whose message names the sidecar URL and
carries what the sidecar answered (error code, message, status, request id), so nothing is
ever silently left uncompressed.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence, Tuple

import httpx
from omnizip_client import Client, CompressResult, OmniZipError, ServerAddress

__all__ = ["SidecarError", "check_ready", "compress_split", "make_client", "wait_ready"]


class SidecarError(RuntimeError):
    """The OmniZip sidecar could not be reached, was not ready, or refused a request."""

    def __init__(self, url: str, what: str, detail: str) -> None:
        super().__init__(f"OmniZip sidecar at {url}: {what}: {detail}")
        self.url = url
        self.detail = detail

    @classmethod
    def from_client_error(cls, url: str, what: str, err: OmniZipError) -> "SidecarError":
        return cls(url, what, str(err))  # "code: message (status S, request_id R, after N attempts)"


def _probe(url: str, timeout: float) -> Optional[str]:
    """None when ``GET /readyz`` answers 2xx, else what went wrong."""
    try:
        r = ServerAddress.parse(url).get("/readyz", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if r.is_success:
        return None
    return f"GET /readyz answered {r.status_code}: {r.text.strip()[:500] or '(empty body)'}"


def wait_ready(url: str, timeout: float) -> None:
    """Poll ``/readyz`` until it answers 2xx; raise :class:`SidecarError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        problem = _probe(url, timeout=min(5.0, max(0.5, timeout)))
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise SidecarError(url, f"not ready after {timeout:g} s (set omnizip.url or OMNIZIP_URL)", problem)
        time.sleep(0.25)


def check_ready(url: str, timeout: float = 2.0) -> None:
    """One ``/readyz`` probe (about a millisecond next to the sidecar); raises SidecarError."""
    problem = _probe(url, timeout)
    if problem is not None:
        raise SidecarError(url, "not ready, request refused before reaching the engine", problem)


def make_client(url: str, timeout: float, retries: int) -> Client:
    return Client(url, timeout=timeout, retries=retries)


def compress_split(client: Client, audio: Any, video: Any, scores: Any, grid_thw: Sequence[int],
                   audio_runs: Sequence[int], video_runs: Sequence[int], params: Dict[str, Any]) -> Tuple[CompressResult, float]:
    """One span, split layout: ``POST /v1/compress``. Returns (result, wall time in ms)."""
    import torch

    start = time.perf_counter()
    try:
        result = client.compress(audio_embeds=audio, video_embeds=video, audio_scores=scores,
                                 video_grid_thw=torch.tensor(list(grid_thw), dtype=torch.int64),
                                 audio_chunk_lens=list(audio_runs), video_chunk_lens=list(video_runs), **params)
    except OmniZipError as err:
        raise SidecarError.from_client_error(client.base_url, "POST /v1/compress failed", err) from err
    return result, (time.perf_counter() - start) * 1e3
