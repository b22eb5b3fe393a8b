"""The synchronous client, and what it shares with the async one."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, Mapping, Optional, Union

import httpx

from . import _fd_http, _memfd
from . import _protocol as proto
from .address import ServerAddress
from .budget import Budget
from .errors import TimeoutError, TransportError, parse_retry_after
from .results import CompressResult, ScorePlan
from .retry import ANSWERED, RetryPolicy, RetryState, mark_answered

__all__ = ["Client", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:8080"
TimeoutLike = Union[float, "tuple[float, float]", httpx.Timeout]


def _base_url(base_url: Optional[str]) -> str:
    url = base_url or os.environ.get("OMNIZIP_URL") or DEFAULT_URL
    if "://" not in url and not url.lower().startswith("unix:"):
        url = "http://" + url
    return url.rstrip("/")


class _BaseClient:
    """Configuration and request building common to :class:`Client` and ``AsyncClient``."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        timeout: TimeoutLike = 60.0,
        connect_timeout: Optional[float] = 5.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        max_connections: int = 16,
        headers: Optional[Mapping[str, str]] = None,
        retry_policy: Optional[RetryPolicy] = None,
        memfd: bool = True,
        memfd_threshold: int = proto.MEMFD_THRESHOLD,
        memfd_huge_pages: bool = True,
    ) -> None:
        self.base_url = _base_url(base_url)
        self.address = ServerAddress.parse(self.base_url)
        self.timeout = proto.split_timeout(timeout, connect_timeout)
        self.retry_policy = retry_policy or RetryPolicy(retries=retries, max_wait=max_retry_wait)
        self.limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.headers: Dict[str, str] = {"User-Agent": "omnizip-client-python", **dict(headers or {})}
        self.memfd = memfd
        self.memfd_threshold = memfd_threshold
        self.memfd_huge_pages = memfd_huge_pages
        #: Whether the server takes memfd bodies: None until asked (once, on the first request
        #: that could use one), False after a failed probe or a 415 for one.
        self._server_memfd: Optional[bool] = None

    def _socket_transport(self, transport: Any, make: Any) -> Any:
        """``transport``, or for a ``unix:`` base URL one bound to the socket (carrying the pool
        limits, which httpx takes from the transport once one is given)."""
        if self.address.socket is None:
            return transport
        if transport is not None:
            raise ValueError(f"a transport and a unix: base URL ({self.base_url}) both say how to connect; give one")
        return make(limits=self.limits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, retries={self.retry_policy.retries})"

    # -- the body's transport (shared) --------------------------------------------------------

    def _memfd_candidate(self, prep: proto.Prepared) -> bool:
        """Everything but the server's answer says this request's body may go in a memfd."""
        return (self.memfd and self.address.socket is not None and prep.safetensors
                and prep.size >= self.memfd_threshold and self._server_memfd is not False and _memfd.available())

    def _memfd_of(self, prep: proto.Prepared) -> Optional[int]:
        """The request's sealed memfd; None when one cannot be made here (descriptor limit,
        memory, a sandbox without memfd_create): this call then sends the ordinary body."""
        try:
            return prep.memfd(self.memfd_huge_pages)
        except OSError:
            return None

    # -- request building (shared) ------------------------------------------------------------

    def _compress_request(
        self,
        inputs_embeds: Any,
        input_ids: Any,
        audio_scores: Any,
        video_grid_thw: Any,
        audio_embeds: Any,
        video_embeds: Any,
        audio_chunk_lens: Any,
        video_chunk_lens: Any,
        params: Dict[str, Any],
        return_embeds: bool,
        request_id: Optional[str],
    ) -> proto.Prepared:
        return proto.prepare_compress(
            inputs_embeds=inputs_embeds,
            input_ids=input_ids,
            audio_embeds=audio_embeds,
            video_embeds=video_embeds,
            audio_scores=audio_scores,
            video_grid_thw=video_grid_thw,
            audio_chunk_lens=audio_chunk_lens,
            video_chunk_lens=video_chunk_lens,
            params=proto.merge_params(params),
            return_embeds=return_embeds,
            request_id=request_id,
        )

    @staticmethod
    def _transport_error(prep: proto.Prepared, exc: Exception, attempts: int) -> TransportError:
        kind = TimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
        if kind is TimeoutError:
            code = "timeout"
        else:
            code = "connect_error" if isinstance(exc, httpx.ConnectError) else "transport_error"
        detail = str(exc) or type(exc).__name__
        return kind(f"{prep.method} {prep.path}: {type(exc).__name__}: {detail}", code=code, attempts=attempts)


class Client(_BaseClient):
    """Blocking client with one pooled set of keep-alive connections. Thread-safe.

    >>> with Client("http://127.0.0.1:8080") as c:
    ...     result = c.compress(inputs_embeds, input_ids, audio_scores, video_grid_thw, rho_audio=0.3)

    ``timeout`` is the read/write/pool timeout in seconds (or ``(connect, read)``, or an
    ``httpx.Timeout``); ``connect_timeout`` the connect timeout. ``retries`` and
    ``max_retry_wait`` bound the retrying of overload answers and safe transport failures
    (see :mod:`omnizip_client.retry`). ``base_url`` defaults to ``$OMNIZIP_URL``; a server on a
    Unix socket (``omnizip serve --unix-socket PATH``) is ``unix:///PATH``. There, safetensors
    bodies of ``memfd_threshold`` bytes or more travel as sealed memfds when the server
    advertises it (``memfd=False`` always sends the ordinary body; see the README), in huge
    pages where the host has them free (``memfd_huge_pages=False``: always 4 KiB pages).
    """

    def __init__(self, base_url: Optional[str] = None, *, transport: Optional[httpx.BaseTransport] = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        transport = self._socket_transport(transport, self.address.transport)
        self._http = httpx.Client(base_url=self.address.origin, timeout=self.timeout, limits=self.limits, headers=self.headers,
                                  transport=transport, trust_env=False, event_hooks={"response": [mark_answered]})
        self._probe_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- API --------------------------------------------------------------------------------

    def compress(
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
        """Compress one prompt.

        Interleaved layout: ``inputs_embeds [L, D]`` (or ``[1, L, D]``), ``input_ids [L]``,
        ``audio_scores [Na]``, ``video_grid_thw [T, H, W]``. Split layout: ``audio_embeds``,
        ``video_embeds``, ``audio_scores``, ``video_grid_thw`` and optionally the run lengths
        ``audio_chunk_lens``/``video_chunk_lens`` (default: one run each). Parameters left
        None take the server's defaults. Torch tensors in give torch tensors out.
        """
        params = dict(model=model, rho_audio=rho_audio, rho_video=rho_video, contextual_ratio=contextual_ratio, g=g, video_budget=video_budget,
                      audio_token_id=audio_token_id, video_token_id=video_token_id)
        prep = self._compress_request(inputs_embeds, input_ids, audio_scores, video_grid_thw, audio_embeds, video_embeds,
                                      audio_chunk_lens, video_chunk_lens, params, return_embeds, request_id)
        return self._execute(prep)

    def compress_bytes(
        self,
        body: bytes,
        *,
        return_embeds: bool = False,
        request_id: Optional[str] = None,
        as_torch: bool = False,
        **params: Any,
    ) -> CompressResult:
        """POST an already-serialised safetensors request; ``params`` become query overrides."""
        prep = proto.prepare_compress_bytes(body, params=proto.merge_params(params), return_embeds=return_embeds,
                                            request_id=request_id, as_torch=as_torch)
        return self._execute(prep)

    def score(
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
        """The budget plan from the audio scores and the layout alone (no embeddings).

        The layout is the run lengths plus ``tokens_per_frame`` (or ``video_grid_thw``), or
        ``input_ids`` from which the runs are found (with the token ids).
        """
        prep = proto.prepare_score(
            audio_scores=audio_scores, audio_chunk_lens=audio_chunk_lens, video_chunk_lens=video_chunk_lens,
            tokens_per_frame=tokens_per_frame, video_grid_thw=video_grid_thw, input_ids=input_ids,
            params=proto.merge_params(dict(model=model, rho_audio=rho_audio, rho_video=rho_video, contextual_ratio=contextual_ratio, g=g, video_budget=video_budget,
                                           audio_token_id=audio_token_id, video_token_id=video_token_id)),
            request_id=request_id, as_torch=as_torch)
        return self._execute(prep)

    def budget(
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
        return self._execute(prep)

    def info(self) -> Dict[str, Any]:
        """``GET /v1/info``."""
        return self._execute(proto.prepare_get("/v1/info"))

    def metrics(self) -> str:
        """``GET /metrics`` (Prometheus text)."""
        return self._execute(proto.prepare_get("/metrics", kind="text"))

    def live(self) -> bool:
        """``GET /livez`` once, without retries: True on 2xx."""
        return self._probe("/livez")

    def ready(self) -> bool:
        """``GET /readyz`` once, without retries: True on 2xx."""
        return self._probe("/readyz")

    # -- machinery --------------------------------------------------------------------------

    def _probe(self, path: str) -> bool:
        try:
            return self._http.get(path).is_success
        except httpx.TransportError:
            return False

    def _memfd_for(self, prep: proto.Prepared) -> Optional[int]:
        """The sealed memfd this request's body goes in, or None for the ordinary body."""
        if not self._memfd_candidate(prep):
            return None
        with self._probe_lock:
            if self._server_memfd is None:
                try:
                    self._server_memfd = proto.advertises_memfd(self._http.get("/v1/info"))
                except httpx.HTTPError:
                    self._server_memfd = False
        return self._memfd_of(prep) if self._server_memfd else None

    def _request(self, prep: proto.Prepared, memfd: bool) -> httpx.Request:
        if memfd:
            return self._http.build_request(prep.method, prep.path, params=prep.params or None, content=b"",
                                            headers=prep.memfd_headers())
        content, headers = prep.sync_body()
        return self._http.build_request(prep.method, prep.path, params=prep.params or None, content=content,
                                        headers=headers)

    def _execute(self, prep: proto.Prepared) -> Any:
        state = RetryState(self.retry_policy, prep.idempotent)
        start = time.monotonic()
        fd = self._memfd_for(prep)  # kept open across attempts: each sends it again
        try:
            while True:
                state.attempts += 1
                request = self._request(prep, fd is not None)
                clock = proto.Stopwatch()
                try:
                    if fd is not None and self.address.socket is not None:
                        response = _fd_http.exchange(self.address.socket, request, fd, self.timeout)
                    else:
                        response = self._http.send(request)
                except httpx.TransportError as exc:
                    delay = state.delay_after_exception(exc, answered=request.extensions.get(ANSWERED, False))
                    if delay is None:
                        raise self._transport_error(prep, exc, state.attempts) from exc
                    time.sleep(delay)
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
                        response.close()
                        time.sleep(delay)
                        state.slept(delay)
                        continue
                proto.annotate(response, prep, fd is not None, clock)
                return prep.parse(response, state.attempts, time.monotonic() - start)
        finally:
            if fd is not None:
                os.close(fd)
