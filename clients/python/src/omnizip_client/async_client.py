"""The asyncio (anyio) client: same API as :class:`omnizip_client.Client`, awaitable."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Dict, Optional

import anyio
import httpx

from . import _fd_http
from . import _protocol as proto
from .budget import Budget
from .client import _BaseClient
from .errors import parse_retry_after
from .results import CompressResult, ScorePlan
from .retry import ANSWERED, RetryState, mark_answered_async

__all__ = ["AsyncClient"]


class AsyncClient(_BaseClient):
    """Non-blocking client with one pooled set of keep-alive connections.

    >>> async with AsyncClient("http://127.0.0.1:8080") as c:
    ...     results = await asyncio.gather(*(c.compress(**req) for req in requests))

    Options as for :class:`omnizip_client.Client` (``unix:///PATH`` and memfd bodies included;
    memfd requests need asyncio, under trio bodies go the ordinary way). Requests are
    serialised on the calling task before they are sent (numpy/torch copies, into bytes or the
    memfd; tens of ms for a 60 s clip).
    """

    def __init__(self, base_url: Optional[str] = None, *, transport: Optional[httpx.AsyncBaseTransport] = None,
                 **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        transport = self._socket_transport(transport, self.address.async_transport)
        self._http = httpx.AsyncClient(base_url=self.address.origin, timeout=self.timeout, limits=self.limits,
                                       headers=self.headers, transport=transport, trust_env=False,
                                       event_hooks={"response": [mark_answered_async]})
        self._probe_lock = anyio.Lock()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def compress(
        self,
        inputs_embeds: Any = None,
        input_ids: Any = None,
        audio_scores: Any = None,
        video_grid_thw: Any = None,
        *,
        audio_embeds: Any = None,
        video_embeds: Any = None,
        audio_chunk_lens: Any = None,
        video_chunk_lens: Any = None,
        model: Optional[str] = None,
        rho_audio: Optional[float] = None,
        rho_video: Optional[float] = None,
        contextual_ratio: Optional[float] = None,
        g: Optional[int] = None,
        video_budget: Optional[str] = None,
        audio_token_id: Optional[int] = None,
        video_token_id: Optional[int] = None,
        return_embeds: bool = False,
        request_id: Optional[str] = None,
    ) -> CompressResult:
        """See :meth:`omnizip_client.Client.compress`."""
        params = dict(model=model, rho_audio=rho_audio, rho_video=rho_video, contextual_ratio=contextual_ratio, g=g, video_budget=video_budget,
                      audio_token_id=audio_token_id, video_token_id=video_token_id)
        prep = self._compress_request(inputs_embeds, input_ids, audio_scores, video_grid_thw, audio_embeds, video_embeds,
                                      audio_chunk_lens, video_chunk_lens, params, return_embeds, request_id)
        return await self._execute(prep)

    async def compress_bytes(
        self,
        body: bytes,
        *,
        return_embeds: bool = False,
        request_id: Optional[str] = None,
        as_torch: bool = False,
        **params: Any,
    ) -> CompressResult:
        """See :meth:`omnizip_client.Client.compress_bytes`."""
        prep = proto.prepare_compress_bytes(body, params=proto.merge_params(params), return_embeds=return_embeds,
                                            request_id=request_id, as_torch=as_torch)
        return await self._execute(prep)

    async def score(
        self,
        audio_scores: Any,
        *,
        audio_chunk_lens: Any = None,
        video_chunk_lens: Any = None,
        tokens_per_frame: Optional[int] = None,
        video_grid_thw: Any = None,
        input_ids: Any = None,
        model: Optional[str] = None,
        rho_audio: Optional[float] = None,
        rho_video: Optional[float] = None,
        contextual_ratio: Optional[float] = None,
        g: Optional[int] = None,
        video_budget: Optional[str] = None,
        audio_token_id: Optional[int] = None,
        video_token_id: Optional[int] = None,
        request_id: Optional[str] = None,
        as_torch: bool = False,
    ) -> ScorePlan:
        """See :meth:`omnizip_client.Client.score`."""
        prep = proto.prepare_score(
            audio_scores=audio_scores, audio_chunk_lens=audio_chunk_lens, video_chunk_lens=video_chunk_lens,
            tokens_per_frame=tokens_per_frame, video_grid_thw=video_grid_thw, input_ids=input_ids,
            params=proto.merge_params(dict(model=model, rho_audio=rho_audio, rho_video=rho_video, contextual_ratio=contextual_ratio, g=g, video_budget=video_budget,
                                           audio_token_id=audio_token_id, video_token_id=video_token_id)),
            request_id=request_id, as_torch=as_torch)
        return await self._execute(prep)

    async def budget(
        self,
        audio_chunk_lens: Any,
        video_chunk_lens: Any,
        tokens_per_frame: Optional[int] = None,
        *,
        video_grid_thw: Any = None,
        model: Optional[str] = None,
        rho_audio: Optional[float] = None,
        rho_video: Optional[float] = None,
        contextual_ratio: Optional[float] = None,
        g: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> Budget:
        """``POST /v1/budget``: the exact-budget totals from sizes alone (see :mod:`omnizip_client.budget`
        for the same without a round trip)."""
        prep = proto.prepare_budget(
            audio_chunk_lens=audio_chunk_lens, video_chunk_lens=video_chunk_lens, tokens_per_frame=tokens_per_frame,
            video_grid_thw=video_grid_thw,
            params=proto.merge_params(dict(model=model, rho_audio=rho_audio, rho_video=rho_video, contextual_ratio=contextual_ratio, g=g)),
            request_id=request_id)
        return await self._execute(prep)

    async def info(self) -> Dict[str, Any]:
        return await self._execute(proto.prepare_get("/v1/info"))

    async def metrics(self) -> str:
        return await self._execute(proto.prepare_get("/metrics", kind="text"))

    async def live(self) -> bool:
        return await self._probe("/livez")

    async def ready(self) -> bool:
        return await self._probe("/readyz")

    async def _probe(self, path: str) -> bool:
        try:
            return (await self._http.get(path)).is_success
        except httpx.TransportError:
            return False

    async def _memfd_for(self, prep: proto.Prepared) -> Optional[int]:
        """The sealed memfd this request's body goes in, or None for the ordinary body."""
        if not self._memfd_candidate(prep) or not _on_asyncio():
            return None
        async with self._probe_lock:
            if self._server_memfd is None:
                try:
                    self._server_memfd = proto.advertises_memfd(await self._http.get("/v1/info"))
                except httpx.HTTPError:
                    self._server_memfd = False
        return self._memfd_of(prep) if self._server_memfd else None

    def _request(self, prep: proto.Prepared, memfd: bool) -> httpx.Request:
        if memfd:
            return self._http.build_request(prep.method, prep.path, params=prep.params or None, content=b"",
                                            headers=prep.memfd_headers())
        return self._http.build_request(prep.method, prep.path, params=prep.params or None, content=prep.content,
                                        headers=prep.headers)

    async def _execute(self, prep: proto.Prepared) -> Any:
        state = RetryState(self.retry_policy, prep.idempotent)
        start = time.monotonic()
        fd = await self._memfd_for(prep)  # kept open across attempts: each sends it again
        try:
            while True:
                state.attempts += 1
                request = self._request(prep, fd is not None)
                clock = proto.Stopwatch()
                try:
                    if fd is not None and self.address.socket is not None:
                        response = await _fd_http.exchange_async(self.address.socket, request, fd, self.timeout)
                    else:
                        response = await self._http.send(request)
                except httpx.TransportError as exc:
                    delay = state.delay_after_exception(exc, answered=request.extensions.get(ANSWERED, False))
                    if delay is None:
                        raise self._transport_error(prep, exc, state.attempts) from exc
                    await anyio.sleep(delay)
                    state.slept(delay)
                    continue
                if fd is not None and proto.refuses_memfd(response):
                    self._server_memfd = False  # a server older than the feature: ordinary bodies from now on
                    os.close(fd)
                    fd = None
                    continue
                if response.status_code in (429, 503):
                    delay = state.delay_after_status(response.status_code,
                                                     parse_retry_after(response.headers.get("retry-after")))
                    if delay is not None:
                        await response.aclose()
                        await anyio.sleep(delay)
                        state.slept(delay)
                        continue
                proto.annotate(response, prep, fd is not None, clock)
                return prep.parse(response, state.attempts, time.monotonic() - start)
        finally:
            if fd is not None:
                os.close(fd)


def _on_asyncio() -> bool:
    """The memfd exchange uses the asyncio loop's socket calls; under another event loop (trio) it cannot."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
