"""Building requests and reading responses: the part shared by Client and AsyncClient."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import httpx
import numpy as np

from . import _memfd, codec
from .codec import BF16Bits, is_ml_dtypes_bf16, is_torch
from .errors import ProtocolError, error_from_response
from .budget import Budget
from .models import DEFAULT_MODEL, MODELS
from .results import CompressResult, Counts, ScorePlan

SYNC_CHUNK = 1 << 20
PARAMETER_NAMES = ("model", "rho_audio", "rho_video", "contextual_ratio", "g", "video_budget", "audio_token_id",
                   "video_token_id")

def token_id(params: Dict[str, str], name: str) -> int:
    """``audio_token_id`` or ``video_token_id`` as the server will read it: the explicit value,
    else the named model's (Qwen2.5-Omni's when none is named)."""
    if name in params:
        return int(params[name])
    return int(MODELS.get(params.get("model", DEFAULT_MODEL), MODELS[DEFAULT_MODEL])[name])


#: Transports a request body can take (``CompressResult.transport``).
BODY = "body"
MEMFD = "memfd"
#: What ``GET /v1/info`` lists in ``features`` when the server takes memfd bodies.
MEMFD_FEATURE = "memfd-body"
MEMFD_MEDIA_TYPE = "application/vnd.omnizip.memfd"
MEMFD_LENGTH_HEADER = "Omnizip-Memfd-Length"
#: Bodies from this size up go in a memfd when they can (below it, a copy through the socket
#: costs less than making the memfd).
MEMFD_THRESHOLD = 1 << 20

_TRANSPORT = "omnizip.transport"
_CLIENT_TIMINGS = "omnizip.client_timings"


class Stopwatch:
    """Wall time (``perf_counter``) and this thread's CPU time (``thread_time``) since it started."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.thread_time()

    def record(self, timings: Dict[str, float], name: str) -> None:
        """``timings[name + "_ms"]`` and ``timings[name + "_cpu_ms"]``, in milliseconds."""
        timings[f"{name}_ms"] = (time.perf_counter() - self.wall) * 1e3
        timings[f"{name}_cpu_ms"] = (time.thread_time() - self.cpu) * 1e3


@dataclass
class Prepared:
    """One logical request, ready to send (possibly several times, by either transport)."""

    method: str
    path: str
    parse: Callable[[httpx.Response, int, float], Any]
    params: Dict[str, str] = field(default_factory=dict)
    #: The body as bytes: given (JSON, ``compress_bytes``), or encoded from ``layout`` on first use.
    raw: Optional[bytes] = None
    #: A safetensors request planned from tensors, serialised only by the transport that sends it.
    layout: Optional[codec.Layout] = None
    headers: Dict[str, str] = field(default_factory=dict)
    #: The body is a safetensors request (it may travel in a memfd).
    safetensors: bool = False
    #: Client-side costs in ms, filled in as they happen (``encode_ms``, ``encode_cpu_ms``).
    timings: Dict[str, float] = field(default_factory=dict)
    #: The last memfd made for this request is in huge pages.
    memfd_huge: bool = False

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS")

    @property
    def size(self) -> int:
        """Bytes of the body."""
        if self.raw is not None:
            return len(self.raw)
        return self.layout.size if self.layout is not None else 0

    @property
    def content(self) -> Optional[bytes]:
        """The body's bytes (encoded from the layout once, when first asked for)."""
        if self.raw is None and self.layout is not None:
            clock = Stopwatch()
            self.raw = self.layout.to_bytes()
            clock.record(self.timings, "encode")
        return self.raw

    def memfd(self, huge_pages: bool = False) -> int:
        """A sealed memfd holding the body, written straight from the tensors (or copied from
        the given bytes), in huge pages when ``huge_pages`` and the host has them
        (``memfd_huge`` says which). The caller closes it."""
        clock = Stopwatch()
        request = self.layout if self.raw is None and self.layout is not None else (self.raw or b"")
        fd, self.memfd_huge = _memfd.write(request, huge_pages)
        clock.record(self.timings, "encode")
        return fd

    def memfd_headers(self) -> Dict[str, str]:
        """The headers of the memfd request: the ordinary ones, the memfd's type and exact size."""
        return dict(self.headers, **{"Content-Type": MEMFD_MEDIA_TYPE, MEMFD_LENGTH_HEADER: str(self.size)})

    def sync_body(self) -> Tuple[Any, Dict[str, str]]:
        """(content, headers) for one attempt of the blocking client.

        A large body goes as a fresh iterator of 1 MiB views with an explicit Content-Length
        (still one identity-encoded body): httpcore's blocking socket writer re-slices its
        buffer after every partial send, which is quadratic in the body size (a 62 MB body
        took twice as long to upload as a whole ``bytes``).
        """
        content = self.content
        if content is None or len(content) <= SYNC_CHUNK:
            return content, self.headers
        view = memoryview(content)
        chunks = (view[i : i + SYNC_CHUNK] for i in range(0, len(content), SYNC_CHUNK))
        return chunks, dict(self.headers, **{"Content-Length": str(len(content))})


def advertises_memfd(response: httpx.Response) -> bool:
    """A ``GET /v1/info`` answer that lists the memfd-body feature."""
    if not response.is_success:
        return False
    try:
        doc = response.json()
    except ValueError:
        return False
    features = doc.get("features") if isinstance(doc, dict) else None
    return isinstance(features, list) and MEMFD_FEATURE in features


def refuses_memfd(response: httpx.Response) -> bool:
    """The 415 of a server that does not take memfd bodies (one older than the feature)."""
    if response.status_code != 415:
        return False
    return error_from_response(415, response.headers, response.content).code == "unsupported_media_type"


def annotate(response: httpx.Response, prep: Prepared, memfd: bool, upload: Stopwatch) -> None:
    """Attach how the request travelled (``memfd``: in ``prep``'s memfd) and what it cost the
    client, for the parse functions."""
    timings = dict(prep.timings)
    upload.record(timings, "upload")
    response.extensions[_TRANSPORT] = (MEMFD, prep.memfd_huge) if memfd else (BODY, False)
    response.extensions[_CLIENT_TIMINGS] = timings


def _client_side(response: httpx.Response) -> Dict[str, Any]:
    transport, huge = response.extensions.get(_TRANSPORT, (BODY, False))
    return dict(transport=transport, huge_pages=huge, client_timings=dict(response.extensions.get(_CLIENT_TIMINGS, {})))


# ---------------------------------------------------------------- parameters


def format_parameter(name: str, value: Any) -> str:
    """Query-string text of a parameter; the server validates the value."""
    if is_torch(value) or isinstance(value, np.ndarray) or isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parameters(**values: Any) -> Dict[str, str]:
    return {name: format_parameter(name, v) for name, v in values.items() if v is not None}


def request_headers(request_id: Optional[str], content_type: Optional[str] = None) -> Dict[str, str]:
    headers: Dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if request_id:
        headers["X-Request-Id"] = str(request_id)
    return headers


# ---------------------------------------------------------------- tensors in


def _flat_ints(name: str, x: Any) -> Any:
    if is_torch(x):
        import torch

        return x.detach().reshape(-1).to(torch.int64)
    array = np.asarray(x)
    if array.size and array.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64).reshape(-1)


def _flat_scores(x: Any) -> Any:
    if is_torch(x):
        import torch

        return x.detach().reshape(-1).to(torch.float32)
    if isinstance(x, BF16Bits):
        return x.to_float32().reshape(-1)
    return np.asarray(x, dtype=np.float32).reshape(-1)


def _grid(x: Any, video_tokens: Optional[int]) -> Any:
    if x is None:
        if video_tokens:
            raise ValueError("video_grid_thw is required when the request has video tokens")
        return np.array([[0, 2, 2]], dtype=np.int64)
    if is_torch(x):
        import torch

        g = x.detach().to(torch.int64)
    else:
        g = np.asarray(x, dtype=np.int64)
    if tuple(g.shape) not in ((3,), (1, 3)):
        raise ValueError(f"video_grid_thw must be [T, H, W] or [[T, H, W]] (one video), got shape {tuple(g.shape)}")
    return g.reshape(1, 3)


def _embeds_2d(name: str, x: Any) -> Any:
    """[n, D] view of ``x`` (accepts a batch of one, [1, n, D])."""
    if not (is_torch(x) or isinstance(x, (np.ndarray, BF16Bits))):
        x = np.asarray(x, dtype=np.float32)
    shape = tuple(x.shape)
    if len(shape) == 3 and shape[0] == 1:
        return x.reshape(shape[1], shape[2])
    if len(shape) != 2:
        raise ValueError(f"{name} must have shape [n, D] or [1, n, D], got {list(shape)}")
    dtype = codec.dtype_name_of(x)
    if dtype not in ("F32", "F16", "BF16"):
        raise TypeError(
            f"{name} must be float32, float16 or bfloat16 (numpy: BF16Bits or ml_dtypes.bfloat16), "
            f"got {getattr(x, 'dtype', type(x))}"
        )
    return x


def _count(ids: Any, token_id: int) -> int:
    return int((ids == token_id).sum())


def runs_of(positions: np.ndarray) -> List[int]:
    """Lengths of the maximal runs of consecutive ascending positions."""
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1) + 1
    edges = np.concatenate(([0], breaks, [positions.size]))
    return [int(n) for n in np.diff(edges)]


def prepare_compress(
    *,
    inputs_embeds: Any = None,
    input_ids: Any = None,
    audio_embeds: Any = None,
    video_embeds: Any = None,
    audio_scores: Any,
    video_grid_thw: Any = None,
    audio_chunk_lens: Any = None,
    video_chunk_lens: Any = None,
    params: Dict[str, str],
    return_embeds: bool,
    request_id: Optional[str],
) -> Prepared:
    interleaved = inputs_embeds is not None or input_ids is not None
    split = audio_embeds is not None or video_embeds is not None
    if interleaved == split:
        raise ValueError("give either inputs_embeds + input_ids (interleaved) or audio_embeds + video_embeds (split)")
    if audio_scores is None:
        raise ValueError("audio_scores is required")
    tensors: Dict[str, Any] = {"audio_scores": _flat_scores(audio_scores)}
    if interleaved:
        if inputs_embeds is None or input_ids is None:
            raise ValueError("the interleaved layout needs both inputs_embeds and input_ids")
        embeds = _embeds_2d("inputs_embeds", inputs_embeds)
        ids = _flat_ints("input_ids", input_ids)
        video_id = token_id(params, "video_token_id")
        tensors.update(inputs_embeds=embeds, input_ids=ids, video_grid_thw=_grid(video_grid_thw, _count(ids, video_id)))
        reference = embeds
    else:
        if audio_embeds is None or video_embeds is None:
            raise ValueError("the split layout needs both audio_embeds and video_embeds (either may have 0 rows)")
        a = _embeds_2d("audio_embeds", audio_embeds)
        v = _embeds_2d("video_embeds", video_embeds)
        na, nv = int(a.shape[0]), int(v.shape[0])
        alens = _flat_ints("audio_chunk_lens", audio_chunk_lens if audio_chunk_lens is not None else ([na] if na else []))
        vlens = _flat_ints("video_chunk_lens", video_chunk_lens if video_chunk_lens is not None else ([nv] if nv else []))
        tensors.update(
            audio_embeds=a,
            video_embeds=v,
            audio_chunk_lens=alens,
            video_chunk_lens=vlens,
            video_grid_thw=_grid(video_grid_thw, nv),
        )
        reference = a
    # Any torch input makes the whole exchange torch: the body is written from the tensors' memory and
    # the result holds torch tensors.
    torch_mode = any(is_torch(t) for t in tensors.values())
    bf16_ml = is_ml_dtypes_bf16(reference)
    return Prepared(
        method="POST",
        path="/v1/compress",
        params=dict(params, **({"return": "embeds"} if return_embeds else {})),
        layout=codec.layout(tensors),
        safetensors=True,
        headers=request_headers(request_id, "application/octet-stream"),
        parse=lambda r, attempts, elapsed: parse_compress(r, torch_mode, attempts, elapsed, bf16_ml=bf16_ml),
    )


def prepare_compress_bytes(
    body: bytes, *, params: Dict[str, str], return_embeds: bool, request_id: Optional[str], as_torch: bool
) -> Prepared:
    return Prepared(
        method="POST",
        path="/v1/compress",
        params=dict(params, **({"return": "embeds"} if return_embeds else {})),
        raw=bytes(body),
        safetensors=True,
        headers=request_headers(request_id, "application/octet-stream"),
        parse=lambda r, attempts, elapsed: parse_compress(r, as_torch, attempts, elapsed),
    )


def prepare_score(
    *,
    audio_scores: Any,
    audio_chunk_lens: Any,
    video_chunk_lens: Any,
    tokens_per_frame: Optional[int],
    video_grid_thw: Any,
    input_ids: Any,
    params: Dict[str, str],
    request_id: Optional[str],
    as_torch: bool,
) -> Prepared:
    scores = _flat_scores(audio_scores)
    scores_np = scores.cpu().numpy() if is_torch(scores) else scores
    doc: Dict[str, Any] = {"audio_scores": [float(s) for s in scores_np.tolist()]}
    text_tokens = 0
    if input_ids is not None:
        if audio_chunk_lens is not None or video_chunk_lens is not None:
            raise ValueError("give input_ids or the chunk lengths, not both")
        ids = _flat_ints("input_ids", input_ids)
        ids = ids.cpu().numpy() if is_torch(ids) else ids
        audio_chunk_lens = runs_of(np.flatnonzero(ids == token_id(params, "audio_token_id")))
        video_chunk_lens = runs_of(np.flatnonzero(ids == token_id(params, "video_token_id")))
        # The JSON request carries only the runs; the prompt's text tokens are counted here so
        # that total and kept mean what /v1/compress's do for the same prompt.
        text_tokens = int(ids.size - sum(audio_chunk_lens) - sum(video_chunk_lens))
    if audio_chunk_lens is not None:
        doc["audio_chunk_lens"] = [int(n) for n in np.asarray(audio_chunk_lens).reshape(-1).tolist()]
    if video_chunk_lens is not None:
        doc["video_chunk_lens"] = [int(n) for n in np.asarray(video_chunk_lens).reshape(-1).tolist()]
    if video_grid_thw is not None:
        grid = video_grid_thw.detach().cpu().numpy() if is_torch(video_grid_thw) else np.asarray(video_grid_thw)
        doc["video_grid_thw"] = [int(n) for n in grid.reshape(-1).tolist()]
    if tokens_per_frame is not None:
        doc["tokens_per_frame"] = int(tokens_per_frame)
    for name, text in params.items():
        if name in ("audio_token_id", "video_token_id"):
            continue  # only used here to find the runs in input_ids
        doc[name] = text
    return Prepared(
        method="POST",
        path="/v1/score",
        raw=json.dumps(doc, separators=(",", ":")).encode("utf-8"),
        headers=dict(request_headers(request_id, "application/json"), Accept="application/json"),
        parse=lambda r, attempts, elapsed: parse_score(r, as_torch, attempts, elapsed, text_tokens),
    )


def prepare_budget(
    *,
    audio_chunk_lens: Any,
    video_chunk_lens: Any,
    tokens_per_frame: Optional[int],
    video_grid_thw: Any,
    params: Dict[str, str],
    request_id: Optional[str],
) -> Prepared:
    doc: Dict[str, Any] = {
        "audio_chunk_lens": [int(n) for n in np.asarray(audio_chunk_lens if audio_chunk_lens is not None else []).reshape(-1).tolist()],
        "video_chunk_lens": [int(n) for n in np.asarray(video_chunk_lens if video_chunk_lens is not None else []).reshape(-1).tolist()],
    }
    if video_grid_thw is not None:
        grid = video_grid_thw.detach().cpu().numpy() if is_torch(video_grid_thw) else np.asarray(video_grid_thw)
        doc["video_grid_thw"] = [int(n) for n in grid.reshape(-1).tolist()]
    if tokens_per_frame is not None:
        doc["tokens_per_frame"] = int(tokens_per_frame)
    doc.update(params)
    return Prepared(
        method="POST",
        path="/v1/budget",
        raw=json.dumps(doc, separators=(",", ":")).encode("utf-8"),
        headers=dict(request_headers(request_id, "application/json"), Accept="application/json"),
        parse=parse_budget,
    )


def prepare_get(path: str, *, request_id: Optional[str] = None, kind: str = "json") -> Prepared:
    def parse(r: httpx.Response, attempts: int, elapsed: float) -> Any:
        check(r, attempts)
        if kind == "text":
            return r.text
        try:
            return r.json()
        except ValueError:
            raise ProtocolError(f"GET {path} did not return JSON", code="invalid_response", status=r.status_code,
                                request_id=r.headers.get("x-request-id")) from None

    return Prepared(method="GET", path=path, headers=request_headers(request_id), parse=parse)


# ---------------------------------------------------------------- responses


def check(response: httpx.Response, attempts: int = 1) -> None:
    if not 200 <= response.status_code < 300:
        raise error_from_response(response.status_code, response.headers, response.content, attempts)


_SERVER_TIMING = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:;[^,]*?dur=([0-9.eE+-]+))?[^,]*")


def timings_of(server_timing: Optional[str]) -> Dict[str, float]:
    """Server phases in ms from ``Server-Timing`` (the body carries none: it is byte-identical
    for the same request)."""
    out: Dict[str, float] = {}
    if server_timing:
        for part in server_timing.split(","):
            m = _SERVER_TIMING.match(part)
            if m and m.group(2):
                try:
                    out[m.group(1)] = float(m.group(2))
                except ValueError:
                    pass
    return out


def parse_compress(response: httpx.Response, as_torch: bool, attempts: int, elapsed: float, *,
                   bf16_ml: bool = False) -> CompressResult:
    check(response, attempts)
    request_id = response.headers.get("x-request-id")
    try:
        arrays, metadata, dtypes = codec.decode(response.content, bf16="bits" if as_torch else "float32")
    except (ValueError, KeyError, TypeError) as e:
        raise ProtocolError(f"unreadable /v1/compress response: {e}", code="invalid_response",
                            status=response.status_code, request_id=request_id) from None
    embeds_dtype = dtypes.get("merged_embeds", "F32")
    if as_torch:
        tensors = {name: codec.to_torch(a, dtypes[name]) for name, a in arrays.items()}
    else:
        tensors = dict(arrays)
        if bf16_ml:
            import ml_dtypes  # present: the request was made with an ml_dtypes array

            for name, a in arrays.items():
                if dtypes[name] == "BF16":
                    tensors[name] = a.astype(ml_dtypes.bfloat16)
    layout = metadata.get("layout") or ("interleaved" if "keep_mask" in tensors else "split")
    needed = ["merged_index", "merged_embeds", "video_chunk_ratio", "audio_chunk_retention"]
    needed += ["keep_mask", "kept_index"] if layout == "interleaved" else ["audio_keep", "video_keep"]
    missing = [n for n in needed if n not in tensors]
    if missing:
        raise ProtocolError(f"/v1/compress response lacks tensors {missing}", code="invalid_response",
                            status=response.status_code, request_id=request_id)
    return CompressResult(
        layout=layout,
        merged_index=tensors["merged_index"],
        merged_embeds=tensors["merged_embeds"],
        video_chunk_ratio=tensors["video_chunk_ratio"],
        audio_chunk_retention=tensors["audio_chunk_retention"],
        counts=Counts.from_mapping(metadata),
        request_id=request_id,
        timings=timings_of(response.headers.get("server-timing")),
        metadata=metadata,
        embeds_dtype=embeds_dtype,
        keep_mask=tensors.get("keep_mask"),
        kept_index=tensors.get("kept_index"),
        audio_keep=tensors.get("audio_keep"),
        video_keep=tensors.get("video_keep"),
        audio_kept_index=tensors.get("audio_kept_index"),
        video_kept_index=tensors.get("video_kept_index"),
        compressed_embeds=tensors.get("compressed_embeds"),
        compressed_audio_embeds=tensors.get("compressed_audio_embeds"),
        compressed_video_embeds=tensors.get("compressed_video_embeds"),
        video_frame_kept=tensors.get("video_frame_kept"),
        attempts=attempts,
        elapsed=elapsed,
        tensors=tensors,
        body=response.content,
        **_client_side(response),
    )


def parse_score(response: httpx.Response, as_torch: bool, attempts: int, elapsed: float,
                text_tokens: int = 0) -> ScorePlan:
    check(response, attempts)
    request_id = response.headers.get("x-request-id")
    try:
        doc = response.json()
        c = Counts.from_mapping(doc)
        # A plan merges nothing yet: which anchors merge depends on the embeddings.
        counts = replace(c, total=c.total + text_tokens, kept=c.kept + text_tokens, merged=None)
        keep = np.asarray(doc["audio_keep"], dtype=np.int64).reshape(-1)
        mask = np.zeros(counts.total_audio, dtype=bool)
        mask[keep] = True
        fields: Dict[str, Any] = dict(
            audio_keep=keep,
            audio_keep_mask=mask,
            audio_chunk_retention=np.asarray(doc["audio_chunk_retention"], dtype=np.float64).reshape(-1),
            video_chunk_ratio=np.asarray(doc["video_chunk_ratio"], dtype=np.float64).reshape(-1),
            video_chunk_kept=np.asarray(doc["video_chunk_kept"], dtype=np.int64).reshape(-1),
            video_frame_kept=np.asarray(doc.get("video_frame_kept", []), dtype=np.int64).reshape(-1),
        )
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ProtocolError(f"unreadable /v1/score response: {e}", code="invalid_response",
                            status=response.status_code, request_id=request_id) from None
    if as_torch:
        import torch

        fields = {k: torch.from_numpy(v) for k, v in fields.items()}
    return ScorePlan(
        layout=str(doc.get("layout", "")),
        counts=counts,
        parameters=dict(doc.get("parameters") or {}),
        request_id=request_id,
        attempts=attempts,
        elapsed=elapsed,
        raw=doc,
        **fields,
        **_client_side(response),
    )


def parse_budget(response: httpx.Response, attempts: int, elapsed: float) -> Budget:
    check(response, attempts)
    try:
        doc = response.json()
        return Budget(**{name: int(doc[name]) for name in Budget.__dataclass_fields__})
    except (ValueError, KeyError, TypeError) as e:
        raise ProtocolError(f"unreadable /v1/budget response: {e}", code="invalid_response",
                            status=response.status_code, request_id=response.headers.get("x-request-id")) from None


def split_timeout(timeout: Any, connect_timeout: Optional[float]) -> httpx.Timeout:
    """httpx.Timeout from a number (read/write/pool), a (connect, read) pair or a Timeout."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, (tuple, list)):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout)


def merge_params(explicit: Dict[str, Any]) -> Dict[str, str]:
    unknown = [k for k in explicit if k not in PARAMETER_NAMES]
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown}; expected {list(PARAMETER_NAMES)}")
    return parameters(**explicit)
