"""Result objects of ``compress`` and ``score``.

Arrays are numpy arrays, or CPU torch tensors when the request was made with torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

__all__ = ["Counts", "CompressResult", "ScorePlan"]


@dataclass(frozen=True)
class Counts:
    """Token counts. ``total``/``kept`` include text tokens (interleaved layout, or a score
    request whose layout came from ``input_ids``). ``merged`` is the number of anchors the merge
    changed; ``None`` from ``/v1/score``, which cannot know it: which anchors receive merges
    depends on the embeddings' audio-video similarity."""

    total: int
    kept: int
    total_audio: int
    kept_audio: int
    total_video: int
    kept_video: int
    merged: Optional[int] = 0

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "Counts":
        def get(name: str) -> int:
            try:
                return int(m.get(name, 0))
            except (TypeError, ValueError):
                return 0

        return cls(
            total=get("total"),
            kept=get("kept"),
            total_audio=get("total_audio"),
            kept_audio=get("kept_audio"),
            total_video=get("total_video"),
            kept_video=get("kept_video"),
            merged=get("merged"),
        )

    @property
    def ratio(self) -> float:
        """Kept fraction of all tokens (1.0 for an empty prompt)."""
        return self.kept / self.total if self.total else 1.0


@dataclass
class CompressResult:
    """What ``/v1/compress`` returned.

    Interleaved layout: ``keep_mask [L]`` and ``kept_index [K]`` are prompt positions;
    ``merged_index [M]`` are prompt positions of the audio anchors whose embeddings the merge
    replaced with ``merged_embeds [M, D]`` (the request's dtype; float32 for BF16 in numpy
    mode). Split layout: ``audio_keep``/``video_keep`` masks and ``audio_kept_index``/
    ``video_kept_index``; ``merged_index`` are audio token indices.
    ``compressed_embeds`` (split: ``compressed_audio_embeds``/``compressed_video_embeds``)
    are present with ``return_embeds=True``.
    """

    layout: str
    merged_index: Any = field(repr=False)
    merged_embeds: Any = field(repr=False)
    video_chunk_ratio: Any = field(repr=False)
    audio_chunk_retention: Any = field(repr=False)
    counts: Counts
    request_id: Optional[str]
    #: Server phases in milliseconds (``queue``, ``decode``, ``compress``, ``encode``, ``core_*``).
    timings: Dict[str, float] = field(repr=False)
    #: The response ``__metadata__`` as sent (strings).
    metadata: Dict[str, str] = field(repr=False)
    #: safetensors dtype of the embeddings (``F32``, ``F16`` or ``BF16``).
    embeds_dtype: str
    keep_mask: Any = field(default=None, repr=False)
    kept_index: Any = field(default=None, repr=False)
    audio_keep: Any = field(default=None, repr=False)
    video_keep: Any = field(default=None, repr=False)
    audio_kept_index: Any = field(default=None, repr=False)
    video_kept_index: Any = field(default=None, repr=False)
    compressed_embeds: Any = field(default=None, repr=False)
    compressed_audio_embeds: Any = field(default=None, repr=False)
    compressed_video_embeds: Any = field(default=None, repr=False)
    #: Each whole frame's kept count, frames in run order (runs shorter than a frame have none).
    video_frame_kept: Any = field(default=None, repr=False)
    #: Attempts this call took (>1 after retries) and its wall time in seconds.
    attempts: int = 1
    elapsed: float = 0.0
    #: Every response tensor by name (same objects as the fields above).
    tensors: Dict[str, Any] = field(default_factory=dict, repr=False)
    #: The response body as received (safetensors bytes).
    body: bytes = field(default=b"", repr=False)
    #: How the request body travelled: ``"body"`` (in the HTTP request) or ``"memfd"`` (a sealed
    #: memfd passed over the Unix socket; see the README).
    transport: str = "body"
    #: The memfd was in huge pages (``MFD_HUGETLB``: the host reserves them; see the README).
    huge_pages: bool = False
    #: Client-side costs in ms (wall, and ``*_cpu_ms`` this thread's CPU): ``encode_ms`` writing the
    #: request (the tensors to bytes, or into the memfd: creating, filling and sealing it;
    #: ``compress_bytes`` copies its bytes into the memfd, and writes nothing for a plain body, so
    #: has none then); ``upload_ms`` the last attempt's exchange, from sending the request to
    #: having the whole response (its wall time includes the server's work).
    client_timings: Dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def is_torch(self) -> bool:
        from .codec import is_torch

        return is_torch(self.merged_index)


@dataclass
class ScorePlan:
    """The budget plan from ``/v1/score``: which audio tokens survive, and each video run's ratio.

    ``audio_keep`` lists kept audio indices (ascending); ``audio_keep_mask`` is the same as a
    bool mask ``[total_audio]``. ``video_chunk_kept`` is the number of video tokens each run keeps.
    """

    layout: str
    audio_keep: Any = field(repr=False)
    audio_keep_mask: Any = field(repr=False)
    audio_chunk_retention: Any = field(repr=False)
    video_chunk_ratio: Any = field(repr=False)
    video_chunk_kept: Any = field(repr=False)
    counts: Counts
    parameters: Dict[str, Any]
    request_id: Optional[str]
    attempts: int = 1
    elapsed: float = 0.0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    #: Each whole frame's kept count, frames in run order.
    video_frame_kept: Any = field(default=None, repr=False)
    #: How the request travelled: ``"body"`` (its JSON is small; only safetensors bodies use memfds).
    transport: str = "body"
    huge_pages: bool = False
    #: Client-side costs as for :class:`CompressResult` (``upload_ms``, ``upload_cpu_ms``).
    client_timings: Dict[str, float] = field(default_factory=dict, repr=False)

