"""The audio-in-video span: token layout, run lengths, M-RoPE positions, position channels.

Qwen2.5-Omni (``use_audio_in_video``) turns ``<|vision_bos|><|VIDEO|><|vision_eos|>`` into

    <|vision_bos|><|audio_bos|> V(chunk 0) A(chunk 0) V(chunk 1) A(chunk 1) ... <|audio_eos|><|vision_eos|>

with chunks of ``seconds_per_chunk`` seconds. :func:`span_layout` reproduces transformers'
``Qwen2_5OmniProcessor.replace_multimodal_special_tokens`` (the layout) and
``get_rope_index`` (the positions) for one span, so the plugin knows, from sizes alone,
the uncompressed span that the reference would have compressed, its maximal runs (what the
sidecar pairs as chunks) and every token's original position.

Positions are relative to the span base ``st``: the position that ``<|vision_bos|>`` and
``<|audio_bos|>`` share. An interior token sits at ``st + rel``; ``<|audio_eos|>`` and
``<|vision_eos|>`` both sit at ``st + eos_rel`` (transformers takes the maximum of the *last
chunk* plus one there, which is what :attr:`SpanLayout.eos_rel` reproduces).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    "POSITION_CHANNELS",
    "SpanLayout",
    "audio_token_count",
    "chunked_index",
    "decode_delta",
    "decode_positions",
    "encode_positions",
    "is_joint",
    "item_float",
    "layout_for",
    "prompt_positions",
    "span_layout",
    "Qwen3SpanLayout",
    "qwen3_audio_token_count",
    "span_layout_qwen3",
    "layout_for_qwen3",
    "joint_layout_qwen3",
    "prompt_positions_qwen3",
]

#: Trailing channels of a compressed span's encoder output: (t, h, w) relative to the span
#: base, each as three base-256 digits. Every digit (0..255) is exact in bf16, fp16 and fp32,
#: so positions survive any embedding dtype losslessly (vLLM's EVS appends raw integers,
#: which bf16 rounds above 256), up to 256**3 - 1 = 16,777,215.
DIGITS = 3
BASE = 256
POSITION_CHANNELS = 3 * DIGITS


def audio_token_count(feature_length: int) -> int:
    """Audio tokens of a clip with ``feature_length`` mel frames (the audio tower's two strides)."""
    return ((int(feature_length) - 1) // 2 + 1 - 2) // 2 + 1


def chunked_index(values: Sequence[float], per_chunk: int) -> List[Tuple[int, int]]:
    """transformers' ``get_chunked_index``: (start, end) slices of ascending ``values``, a new
    slice whenever a value reaches the next multiple of ``per_chunk`` (one step per token)."""
    out, start, current = [], 0, 1
    for i, value in enumerate(values):
        if value >= current * per_chunk:
            out.append((start, i))
            start = i
            current += 1
    out.append((start, len(values)))
    return out


def _video_chunks(t_index: np.ndarray, per_frame: int, per_chunk: int) -> List[Tuple[int, int]]:
    """:func:`chunked_index` over the video tokens (each frame's ``per_frame`` tokens share its
    t), one frame at a time: a frame that jumps past several thresholds (grids more than a
    chunk apart) is split one token per threshold, exactly as the per-token loop does."""
    out, start, current, i = [], 0, 1, 0
    for t in t_index.tolist():
        j = 0
        while j < per_frame and t >= current * per_chunk:
            out.append((start, i + j))
            start, current, j = i + j, current + 1, j + 1
        i += per_frame
    out.append((start, i))
    return out


class _Span:
    """What both models' span layouts derive the same way from their fields (``grid_thw``,
    ``tokens_per_frame``, ``is_audio``, ``chunks``)."""

    @property
    def video_len(self) -> int:
        return self.grid_thw[0] * self.tokens_per_frame

    @property
    def length(self) -> int:
        """Interior tokens (audio + video), without the special tokens around them."""
        return int(self.is_audio.size)

    def runs(self) -> Tuple[List[int], List[int]]:
        """(audio run lengths, video run lengths): maximal runs of one modality, as the sidecar
        finds them in an interleaved prompt, and as its split layout takes them
        (``audio_chunk_lens`` / ``video_chunk_lens``)."""
        return _maximal_runs(self.chunks)


@dataclass(frozen=True)
class SpanLayout(_Span):
    """One uncompressed audio-in-video span (interior tokens only, bos/eos excluded)."""

    grid_thw: Tuple[int, int, int]  # video grid in patch units
    tokens_per_frame: int  # P: tokens of one temporal grid after the 2x2 merge
    audio_len: int  # Na
    chunks: Tuple[Tuple[str, int, int], ...]  # ("video"|"audio", first index in modality, length), span order
    is_audio: np.ndarray  # [N] bool, span order
    index: np.ndarray  # [N] index of each token within its modality
    rel: np.ndarray  # [3, N] int64 positions relative to the span base (all >= 1)
    eos_rel: int  # relative position of <|audio_eos|> and <|vision_eos|>

    @property
    def rel_from_audio_start(self) -> np.ndarray:
        """``rel`` from <|audio_bos|>'s position (the base the rows' position channels use)."""
        return self.rel



def _maximal_runs(chunks: Sequence[Tuple[str, int, int]]) -> Tuple[List[int], List[int]]:
    audio: List[int] = []
    video: List[int] = []
    last = None
    for modality, _, n in chunks:
        if n == 0:
            continue
        runs = audio if modality == "audio" else video
        if modality == last:
            runs[-1] += n
        else:
            runs.append(n)
        last = modality
    return audio, video


def span_layout(
    grid_thw: Sequence[int],
    second_per_grid: float,
    audio_len: int,
    *,
    spatial_merge_size: int = 2,
    position_id_per_seconds: int = 25,
    seconds_per_chunk: int = 2,
) -> SpanLayout:
    """The span of a video with ``grid_thw`` (patch units) and ``audio_len`` audio tokens."""
    t_grid, h_grid, w_grid = (int(x) for x in grid_thw)
    gh, gw = h_grid // spatial_merge_size, w_grid // spatial_merge_size
    per_frame = gh * gw
    # get_rope_index: (arange(T) * float32(second_per_grid) * position_id_per_seconds).long()
    t_index = (torch.arange(t_grid) * torch.tensor(float(second_per_grid), dtype=torch.float32)
               * position_id_per_seconds).long().numpy()
    per_chunk = int(position_id_per_seconds * seconds_per_chunk)

    video_chunks = _video_chunks(t_index, per_frame, per_chunk)
    audio_chunks = chunked_index(range(audio_len), per_chunk)

    hh, ww = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    frame_h, frame_w = hh.reshape(-1), ww.reshape(-1)

    chunks: List[Tuple[str, int, int]] = []
    is_audio, index, rel = [], [], []
    last_chunk_max = 0
    for j in range(max(len(video_chunks), len(audio_chunks))):
        if j < len(video_chunks):
            a, b = video_chunks[j]
            chunks.append(("video", a, b - a))
            if b > a:
                idx = np.arange(a, b)
                t = t_index[idx // per_frame]
                block = np.stack([t, frame_h[idx % per_frame], frame_w[idx % per_frame]]) + 1
                is_audio.append(np.zeros(b - a, bool))
                index.append(idx)
                rel.append(block)
                last_chunk_max = int(block.max())
        if j < len(audio_chunks):
            a, b = audio_chunks[j]
            chunks.append(("audio", a, b - a))
            if b > a:
                idx = np.arange(a, b)
                is_audio.append(np.ones(b - a, bool))
                index.append(idx)
                rel.append(np.broadcast_to(idx + 1, (3, b - a)))
                last_chunk_max = int(b)  # (b - 1) + 1
    return SpanLayout(
        grid_thw=(t_grid, h_grid, w_grid),
        tokens_per_frame=per_frame,
        audio_len=int(audio_len),
        chunks=tuple(chunks),
        is_audio=np.concatenate(is_audio) if is_audio else np.zeros(0, bool),
        index=np.concatenate(index).astype(np.int64) if index else np.zeros(0, np.int64),
        rel=np.concatenate(rel, axis=1).astype(np.int64) if rel else np.zeros((3, 0), np.int64),
        eos_rel=last_chunk_max + 1,
    )


def encode_positions(rel: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[3, N] non-negative integer positions -> [N, 9] base-256 digits in ``dtype`` (exact)."""
    rel = rel.to(torch.int64)
    if rel.numel() and (int(rel.min()) < 0 or int(rel.max()) >= BASE ** DIGITS):
        raise ValueError(f"relative positions must lie in [0, {BASE ** DIGITS}), got {int(rel.min())}..{int(rel.max())}")
    digits = torch.stack([(rel // BASE ** d) % BASE for d in range(DIGITS)], dim=-1)  # [3, N, DIGITS]
    return digits.permute(1, 0, 2).reshape(rel.shape[1], POSITION_CHANNELS).to(dtype)


def decode_positions(channels: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_positions`: [N, 9] -> [3, N] int64."""
    digits = channels.float().round().to(torch.int64).reshape(-1, 3, DIGITS)  # [N, 3, DIGITS]
    weights = torch.tensor([BASE ** d for d in range(DIGITS)], dtype=torch.int64, device=digits.device)
    return (digits * weights).sum(dim=-1).T.contiguous()


# ------------------------------------------------------------------ whole prompts


def is_joint(data: Any) -> bool:
    """A fused audio-in-video item (see processor.py): video and audio fields in one item."""
    return data is not None and "input_audio_features" in data and (
        "pixel_values_videos" in data or "video_embeds" in data)


def item_float(value: Any, index: int, default: float = 1.0) -> float:
    if value is None:
        return default
    if isinstance(value, torch.Tensor):
        flat = value.reshape(-1)
        return float(flat[index]) if flat.numel() > index else default
    if isinstance(value, (list, tuple)):
        return item_float(value[index], 0, default) if len(value) > index else default
    return float(value)


def layout_for(thinker_config: Any, grid_thw: Sequence[int], second_per_grid: float, audio_len: int) -> SpanLayout:
    """The uncompressed span of one video (patch grid) and its audio (``audio_len`` tokens)."""
    vision = thinker_config.vision_config
    return span_layout(
        grid_thw, second_per_grid, audio_len,
        spatial_merge_size=vision.spatial_merge_size,
        position_id_per_seconds=getattr(thinker_config, "position_id_per_seconds",
                                        getattr(vision, "tokens_per_second", 25)),
        seconds_per_chunk=thinker_config.seconds_per_chunk,
    )


def joint_layout(thinker_config: Any, data: Any) -> SpanLayout:
    """The span layout of a fused item (its MultiModalKwargsItem)."""
    grid = data["video_grid_thw"].data.reshape(-1).tolist()
    spg = item_float(data["second_per_grid_ts"].data if "second_per_grid_ts" in data else None, 0)
    feature_length = int(data["audio_feature_lengths"].data.reshape(-1)[0])
    return layout_for(thinker_config, grid, spg, audio_token_count(feature_length))


def _plain_block(modality: str, data: Any, merge: int, tokens_per_second: float, n: int) -> np.ndarray:
    """Relative positions of a standalone item, as vLLM's Qwen2.5-Omni thinker computes them."""
    if modality == "audio":
        return np.broadcast_to(np.arange(n), (3, n))
    key = "image_grid_thw" if modality == "image" else "video_grid_thw"
    t, h, w = data[key].data.reshape(-1).tolist()
    factor = tokens_per_second
    if modality == "video" and "second_per_grid_ts" in data:
        factor = item_float(data["second_per_grid_ts"].data, 0) * tokens_per_second
    grid = np.indices((t, h // merge, w // merge))
    if factor != 1.0:
        grid[0] = (grid[0] * factor).astype(np.int64)
    return grid.reshape(3, -1)


def prompt_positions(tokens: Sequence[int], features: Sequence[Any], thinker_config: Any) -> Tuple[np.ndarray, int, int]:
    """M-RoPE positions [3, K] of a compressed prompt, as the full prompt had them.

    ``features`` have ``mm_position`` (offset, length), ``modality`` and ``data`` (vLLM's
    MultiModalFeatureSpec). A fused span's interior gets base + 1 as a placeholder (the kept
    tokens' positions arrive with their rows, see ``recompute_mrope_positions``); its bos/eos
    and all text keep their uncompressed positions. Also returns the uncompressed prompt's
    length and maximum position.
    """
    cfg = thinker_config
    merge = cfg.vision_config.spatial_merge_size
    tps = getattr(cfg.vision_config, "tokens_per_second", 25)
    length = len(tokens)
    pos = np.zeros((3, length), dtype=np.int64)
    cursor, nxt, full_len, full_max = 0, 0, length, -1
    for f in sorted(features, key=lambda f: f.mm_position.offset):
        off, n = f.mm_position.offset, f.mm_position.length
        if off > cursor:
            pos[:, cursor:off] = nxt + np.arange(off - cursor)
            nxt += off - cursor
        if is_joint(f.data):
            layout = joint_layout(cfg, f.data)
            # <|audio_bos|> shares <|vision_bos|>'s position, <|vision_eos|> <|audio_eos|>'s.
            shares_bos = off > 0 and tokens[off - 1] == cfg.vision_start_token_id
            st = nxt - 1 if shares_bos else nxt
            pos[:, off] = st
            pos[:, off + 1:off + n - 1] = st + 1
            pos[:, off + n - 1] = st + layout.eos_rel
            shares_eos = off + n < length and tokens[off + n] == cfg.vision_end_token_id
            nxt = st + layout.eos_rel + (0 if shares_eos else 1)
            full_len += layout.length - (n - 2)
            full_max = max(full_max, st + int(layout.rel.max(initial=0)), st + layout.eos_rel)
        else:
            block = _plain_block(f.modality, f.data or {}, merge, tps, n)
            pos[:, off:off + n] = nxt + block
            nxt = int(pos[:, off:off + n].max()) + 1
        cursor = off + n
    if cursor < length:
        pos[:, cursor:] = nxt + np.arange(length - cursor)
    full_max = max(full_max, int(pos.max(initial=0)))
    return pos, full_len, full_max


def decode_delta(mode: str, length: int, full_len: int, full_max: int) -> int:
    """vLLM decodes generated token t at ``length + t + delta`` (``length``: compressed prompt).

    - ``reference``: ``max + 1 + t``, what the reference computes: transformers' ``generate``
      counts the UNPRUNED prompt (cache_position L + t) and adds the unpruned
      ``rope_deltas = max + 1 - L``.
    - ``unpruned-delta``: vLLM's own counter with the unpruned ``rope_deltas``:
      ``length + t + max + 1 - L``, i.e. ``L - length`` positions lower (negative whenever
      the compression removed more tokens than ``max + 1``).
    """
    if mode == "unpruned-delta":
        return full_max + 1 - full_len
    return full_max + 1 - length


# ------------------------------------------------------------------ Qwen3-Omni
#
# Qwen3-Omni (``use_audio_in_video``) turns ``<|vision_start|><|video_pad|><|vision_end|>`` into
#
#     <|vision_start|><|audio_start|> merge-by-time(video, audio) <|audio_end|><|vision_end|>
#
# (transformers' ``Qwen3OmniMoeProcessor.replace_multimodal_special_tokens``): every token of
# temporal grid k has time t_k = k * second_per_grid * position_id_per_seconds (13), audio
# token j has time j, and a video token goes first when its time is <= the next audio token's.
# No fixed-length chunks. Positions (``get_rope_index``): <|vision_start|> at st,
# <|audio_start|> at st + 1 (consecutive, not shared as in Qwen2.5), audio j at st + 2 + j,
# video (st + 2 + t_k, st + 2 + h, st + 2 + w), <|audio_end|> at the maximum of the last piece
# get_rope_index appended plus one, <|vision_end|> one more.


def qwen3_audio_token_count(feature_length: int, n_window: int = 50) -> int:
    """Audio tokens of a clip with ``feature_length`` mel frames (Qwen3-Omni's audio tower:
    13 tokens per ``2 * n_window`` frames plus the remainder's three stride-2 convolutions)."""
    n, chunk = int(feature_length), 2 * n_window
    f = (n % chunk - 1) // 2 + 1
    return ((f - 1) // 2 + 1 - 1) // 2 + 1 + (n // chunk) * 13


@dataclass(frozen=True)
class Qwen3SpanLayout(_Span):
    """One uncompressed Qwen3-Omni audio-in-video span. Positions are relative to the position
    of ``<|vision_start|>`` (``<|audio_start|>`` is at 1; interior tokens are all >= 2)."""

    grid_thw: Tuple[int, int, int]  # video grid in patch units
    tokens_per_frame: int  # P: tokens of one temporal grid after the merge
    audio_len: int  # Na
    second_per_grid: float
    grid_step: int  # position (and time) steps between two temporal grids: second_per_grid * 13
    chunks: Tuple[Tuple[str, int, int], ...]  # ("video"|"audio", first index in modality, length), span order
    is_audio: np.ndarray  # [N] bool, span order
    index: np.ndarray  # [N] index of each token within its modality
    rel: np.ndarray  # [3, N] int64 positions relative to <|vision_start|>
    audio_end_rel: int  # relative position of <|audio_end|>; <|vision_end|> is at audio_end_rel + 1

    BOS_REL = (0, 1)  # <|vision_start|>, <|audio_start|>

    @property
    def vision_end_rel(self) -> int:
        return self.audio_end_rel + 1

    @property
    def rel_from_audio_start(self) -> np.ndarray:
        """``rel`` from <|audio_start|>'s position (the base the rows' position channels use)."""
        return self.rel - 1

    def token_ids(self, audio_token_id: int, video_token_id: int) -> np.ndarray:
        """The interior's token ids (span order)."""
        return np.where(self.is_audio, int(audio_token_id), int(video_token_id)).astype(np.int64)


def _qwen3_grid_step(second_per_grid: float, position_id_per_seconds: int, temporal_patch_size: int,
                     t_grid: int) -> int:
    """second_per_grid * position_id_per_seconds as an int, or ValueError.

    Accepted only when transformers' own arithmetic yields exactly the integer layout: the
    grid times get_rope_index computes in float32 (arange(T) * float32(spg) * 13) are the
    integers k * step, and the processor's float64 times (k * spg * 13, compared with integer
    audio times j as ``t <= j``) order the tokens as the integers would (ceil(t) == k * step).
    A step that is an integer only up to rounding (2/2.6 * 13) passes or fails on that test."""
    spg = float(second_per_grid)
    step = spg * position_id_per_seconds
    ok = spg > 0 and step == round(step)
    if ok:
        want = np.arange(t_grid, dtype=np.float64) * round(step)
        t64 = np.arange(t_grid) * spg * position_id_per_seconds
        t32 = (torch.arange(t_grid) * torch.tensor(spg, dtype=torch.float32) * position_id_per_seconds).double().numpy()
        ok = bool(np.array_equal(np.ceil(t64), want) and np.array_equal(t32, want))
    if not ok:
        fps = temporal_patch_size / spg if spg > 0 else float("nan")
        raise ValueError(
            f"Qwen3-Omni layout: second_per_grid={spg:g} (temporal_patch_size {temporal_patch_size} / fps {fps:g}) "
            f"gives {step:g} position steps per temporal grid at position_id_per_seconds={position_id_per_seconds}, "
            f"not an exact positive integer: the reference's positions would be fractional and omnizip does not "
            f"lay such a span out approximately. Pass an fps for which {temporal_patch_size}/fps*"
            f"{position_id_per_seconds} is an integer (fps 1 or 2, e.g. mm_processor_kwargs={{'fps': 2}}).")
    return int(round(step))


def span_layout_qwen3(
    grid_thw: Sequence[int],
    second_per_grid: float,
    audio_len: int,
    *,
    spatial_merge_size: int = 2,
    position_id_per_seconds: int = 13,
    temporal_patch_size: int = 2,
) -> Qwen3SpanLayout:
    """The Qwen3-Omni span of a video with ``grid_thw`` (patch units), ``second_per_grid``
    seconds per temporal grid (``temporal_patch_size / fps``, the fps told to the processor)
    and ``audio_len`` audio tokens, from sizes alone.

    Each video run is one temporal grid (P tokens) followed by the audio tokens j with
    t_k <= j < t_{k+1}; once the audio is used up the remaining grids form one trailing video
    run, and audio left after the last grid one trailing audio run. Raises ValueError when
    ``second_per_grid * position_id_per_seconds`` is not an integer (fractional positions).
    """
    t_grid, h_grid, w_grid = (int(x) for x in grid_thw)
    if t_grid < 1 or h_grid < spatial_merge_size or w_grid < spatial_merge_size or int(audio_len) < 0:
        raise ValueError(f"bad span sizes: grid_thw {tuple(grid_thw)}, audio_len {audio_len}")
    step = _qwen3_grid_step(second_per_grid, position_id_per_seconds, temporal_patch_size, t_grid)
    na = int(audio_len)
    gh, gw = h_grid // spatial_merge_size, w_grid // spatial_merge_size
    per_frame = gh * gw
    hh, ww = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    frame_h, frame_w = hh.reshape(-1), ww.reshape(-1)

    chunks: List[Tuple[str, int, int]] = []
    is_audio, index, rel = [], [], []

    def add_audio(a: int, b: int) -> None:
        chunks.append(("audio", a, b - a))
        idx = np.arange(a, b)
        is_audio.append(np.ones(b - a, bool))
        index.append(idx)
        rel.append(np.broadcast_to(2 + idx, (3, b - a)))

    def add_video(k0: int, k1: int) -> np.ndarray:
        chunks.append(("video", k0 * per_frame, (k1 - k0) * per_frame))
        frames = np.arange(k0, k1)
        block = np.stack([np.repeat(frames * step, per_frame), np.tile(frame_h, k1 - k0),
                          np.tile(frame_w, k1 - k0)]) + 2
        is_audio.append(np.zeros(block.shape[1], bool))
        index.append(np.arange(k0 * per_frame, k1 * per_frame))
        rel.append(block)
        return block

    # The processor's walk: while both lists last, the next video token goes first when
    # t_k <= j (the next audio token's time), else the next audio token.
    a, k = 0, 0
    while k < t_grid and a < na:
        stop = min(max(k * step, a), na)  # audio before grid k
        if stop > a:
            add_audio(a, stop)
            a = stop
            continue  # the audio may have run out
        add_video(k, k + 1)
        k += 1
    # What is left is one trailing block (exactly one of the two modalities); get_rope_index
    # puts <|audio_end|> at that block's maximum (over all three axes) plus one.
    if k < t_grid:
        last = add_video(k, t_grid)
    else:
        add_audio(a, na)
        last = rel[-1]
    audio_end = int(last.max()) + 1
    return Qwen3SpanLayout(
        grid_thw=(t_grid, h_grid, w_grid),
        tokens_per_frame=per_frame,
        audio_len=na,
        second_per_grid=float(second_per_grid),
        grid_step=step,
        chunks=tuple(chunks),
        is_audio=np.concatenate(is_audio),
        index=np.concatenate(index).astype(np.int64),
        rel=np.concatenate(rel, axis=1).astype(np.int64),
        audio_end_rel=audio_end,
    )


def layout_for_qwen3(thinker_config: Any, grid_thw: Sequence[int], second_per_grid: float,
                     feature_length: int) -> Qwen3SpanLayout:
    """The uncompressed Qwen3-Omni span of one video (patch grid) and its audio (mel frames)."""
    vision, audio = thinker_config.vision_config, thinker_config.audio_config
    return span_layout_qwen3(
        grid_thw, second_per_grid, qwen3_audio_token_count(feature_length, audio.n_window),
        spatial_merge_size=vision.spatial_merge_size,
        position_id_per_seconds=thinker_config.position_id_per_seconds,
        temporal_patch_size=vision.temporal_patch_size,
    )


def joint_layout_qwen3(thinker_config: Any, data: Any) -> Qwen3SpanLayout:
    """The span layout of a fused Qwen3-Omni item (its MultiModalKwargsItem); without a
    ``second_per_grid_ts`` it is 2.0 s, vLLM's own default."""
    grid = data["video_grid_thw"].data.reshape(-1).tolist()
    spg = item_float(data["second_per_grid_ts"].data if "second_per_grid_ts" in data else None, 0, 2.0)
    feature_length = int(data["audio_feature_lengths"].data.reshape(-1)[0])
    return layout_for_qwen3(thinker_config, grid, spg, feature_length)


def prompt_positions_qwen3(tokens: Sequence[int], features: Sequence[Any],
                           thinker_config: Any) -> Tuple[np.ndarray, int, int]:
    """:func:`prompt_positions` for Qwen3-Omni: text, images, standalone audio and video as vLLM's
    Qwen3-Omni thinker places them (``get_mrope_input_positions``); a fused span as
    transformers' ``get_rope_index`` placed the uncompressed one (<|audio_start|> right after
    <|vision_start|>, <|audio_end|> after the last piece, <|vision_end|> one more), its interior
    a placeholder that the rows' own positions replace."""
    cfg = thinker_config
    merge = cfg.vision_config.spatial_merge_size
    per_second = cfg.position_id_per_seconds
    length = len(tokens)
    pos = np.zeros((3, length), dtype=np.int64)
    cursor, nxt, full_len, full_max = 0, 0, length, -1
    for f in sorted(features, key=lambda f: f.mm_position.offset):
        off, n = f.mm_position.offset, f.mm_position.length
        if off > cursor:
            pos[:, cursor:off] = nxt + np.arange(off - cursor)
            nxt += off - cursor
        if is_joint(f.data):
            if not (off > 0 and tokens[off - 1] == cfg.vision_start_token_id and off + n < length
                    and tokens[off + n] == cfg.vision_end_token_id):
                raise ValueError("a fused Qwen3-Omni span must sit between <|vision_start|> and <|vision_end|>")
            layout = joint_layout_qwen3(cfg, f.data)
            base = nxt - 1  # <|vision_start|>
            pos[:, off] = base + 1
            pos[:, off + 1:off + n - 1] = base + 2
            pos[:, off + n - 1] = base + layout.audio_end_rel
            pos[:, off + n] = base + layout.vision_end_rel
            nxt = base + layout.vision_end_rel + 1
            full_len += layout.length - (n - 2)
            full_max = max(full_max, base + int(layout.rel.max(initial=0)), base + layout.vision_end_rel)
        else:
            if f.modality == "audio":
                block = np.broadcast_to(np.arange(n), (3, n))
            else:
                key = "image_grid_thw" if f.modality == "image" else "video_grid_thw"
                t, h, w = f.data[key].data.reshape(-1).tolist()
                factor = float(per_second)
                if f.modality == "video":
                    spg = item_float(f.data["second_per_grid_ts"].data if "second_per_grid_ts" in f.data else None, 0, 2.0)
                    factor = spg * per_second
                block = np.indices((t, h // merge, w // merge))
                if factor != 1.0:
                    block[0] = (block[0] * factor).astype(np.int64)
                block = block.reshape(3, -1)
            pos[:, off:off + n] = nxt + block
            eos = int(pos[:, off:off + n].max(initial=nxt - 1)) + 1  # the item's closing token
            if off + n < length:
                pos[:, off + n] = eos
            nxt = eos + 1
        cursor = off + n + 1
    if cursor < length:
        pos[:, cursor:] = nxt + np.arange(length - cursor)
    full_max = max(full_max, int(pos.max(initial=0)))
    return pos, full_len, full_max
