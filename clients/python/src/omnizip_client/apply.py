"""Applying a compression result to the model's prefill inputs (batch of one).

After the reference ``omnizip`` call, Qwen2.5-Omni's thinker does, with the keep mask ``m``::

    inputs_embeds  = inputs_embeds[:, m, :]        # merged audio anchors already written in
    attention_mask = attention_mask[:, m]
    position_ids   = position_ids[:, :, m]         # 3-D M-RoPE ids computed BEFORE pruning

:func:`apply` does exactly that without touching its inputs: it slices first and then writes
each merged anchor into its slot of the sliced copy (anchors are always kept), which gives the
same tensors as writing in place and slicing. Kept tokens keep their original positions;
``rope_deltas`` (computed with the unpruned ids) stays as it is.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from .codec import BF16Bits, float32_to_bf16_bits, is_ml_dtypes_bf16, is_torch
from .results import CompressResult

__all__ = ["Applied", "apply", "slice_deepstack", "write_merged"]


class Applied(NamedTuple):
    """The sliced prefill inputs (None where None was given)."""

    inputs_embeds: Any
    attention_mask: Any
    position_ids: Any


def _np(x: Any) -> np.ndarray:
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _as_torch(x: Any, device: Any, dtype: Any = None) -> Any:
    import torch

    t = x if is_torch(x) else torch.from_numpy(np.ascontiguousarray(x))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


def _interleaved(result: CompressResult) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    if result.layout != "interleaved" or result.keep_mask is None:
        raise ValueError("apply() needs an interleaved-layout result (inputs_embeds + input_ids); "
                         "a split result indexes each modality separately")
    keep = _np(result.keep_mask).astype(bool).reshape(-1)
    kept = np.flatnonzero(keep)
    merged = _np(result.merged_index).astype(np.int64).reshape(-1)
    slots = np.searchsorted(kept, merged)
    if merged.size and (slots.max() >= kept.size or not np.array_equal(kept[slots], merged)):
        raise ValueError("result has a merged anchor that is not kept; it does not come from /v1/compress")
    return keep, merged, slots


def _check_length(name: str, x: Any, axis: int, length: int) -> None:
    shape = tuple(x.shape)
    if len(shape) < -axis or shape[axis] != length:
        raise ValueError(f"{name} has shape {list(shape)}; expected length {length} on axis {axis} (the prompt length)")


def _merged_values(result: CompressResult, like: Any) -> Any:
    """merged_embeds converted to the kind, dtype and device of ``like``."""
    m = result.merged_embeds
    if is_torch(like):
        return _as_torch(m, like.device, like.dtype)
    if isinstance(like, BF16Bits):
        return m.bits if isinstance(m, BF16Bits) else float32_to_bf16_bits(_np(m).astype(np.float32))
    if is_ml_dtypes_bf16(like):
        return _np(m).astype(np.float32).astype(like.dtype)
    return _np(m).astype(np.float32).astype(like.dtype) if _np(m).dtype != like.dtype else _np(m)


def apply(
    result: CompressResult,
    inputs_embeds: Any,
    attention_mask: Optional[Any] = None,
    position_ids: Optional[Any] = None,
) -> Applied:
    """Slice the prefill inputs with ``result``'s keep mask, merged anchors written in.

    ``inputs_embeds`` is ``[1, L, D]`` or ``[L, D]`` (numpy, :class:`BF16Bits`, ml_dtypes
    bfloat16 or torch, any device); ``attention_mask`` ``[1, L]`` or ``[L]``; ``position_ids``
    ``[3, 1, L]`` (M-RoPE, computed before pruning) or anything whose last axis is the prompt.
    Outputs have the same kinds, dtypes, devices and ranks with L replaced by K. Inputs are
    not modified.
    """
    keep, _, slots = _interleaved(result)
    length = keep.size
    _check_length("inputs_embeds", inputs_embeds, -2, length)

    if is_torch(inputs_embeds):
        keep_t = _as_torch(keep, inputs_embeds.device)
        slots_t = _as_torch(slots, inputs_embeds.device)
        out = inputs_embeds[..., keep_t, :]  # advanced indexing: a new tensor
        if slots.size:
            out[..., slots_t, :] = _merged_values(result, inputs_embeds)
    else:
        bits = isinstance(inputs_embeds, BF16Bits)
        base = inputs_embeds.bits if bits else np.asarray(inputs_embeds)
        out = base[..., keep, :]
        if slots.size:
            out[..., slots, :] = _merged_values(result, inputs_embeds)
        if bits:
            out = BF16Bits(out)

    def cut(name: str, x: Any) -> Any:
        if x is None:
            return None
        _check_length(name, x, -1, length)
        if is_torch(x):
            return x[..., _as_torch(keep, x.device)]
        return np.asarray(x)[..., keep]

    return Applied(out, cut("attention_mask", attention_mask), cut("position_ids", position_ids))


def write_merged(result: CompressResult, inputs_embeds: Any) -> Any:
    """Write the merged anchors into the full-length ``inputs_embeds`` in place, as the
    reference ``omnizip`` does; returns the written tensor (same shape as given)."""
    _, merged, _ = _interleaved(result)
    length = _np(result.keep_mask).size
    _check_length("inputs_embeds", inputs_embeds, -2, length)
    if merged.size == 0:
        return inputs_embeds
    shape = tuple(inputs_embeds.shape)
    if is_torch(inputs_embeds):
        flat = inputs_embeds.reshape(-1, shape[-1])
        flat[_as_torch(merged, inputs_embeds.device)] = _merged_values(result, inputs_embeds)
        return flat.reshape(shape)
    if isinstance(inputs_embeds, BF16Bits):
        flat = inputs_embeds.bits.reshape(-1, shape[-1])
        flat[merged] = _merged_values(result, inputs_embeds)
        return BF16Bits(flat.reshape(shape))
    flat = inputs_embeds.reshape(-1, shape[-1])
    flat[merged] = _merged_values(result, inputs_embeds)
    return flat.reshape(shape)


def slice_deepstack(keep_mask: Any, visual_pos_masks: Any, deepstack_visual_embeds: Any) -> Tuple[Any, list]:
    """Qwen3-Omni's DeepStack inputs for the kept tokens, as the reference slices them.

    ``keep_mask`` is the prompt's keep mask ``[L]`` (``result.keep_mask``, or the mask the
    drop-in :func:`omnizip` returns); ``visual_pos_masks`` ``[1, L]`` (or ``[L]``) marks the
    visual tokens; ``deepstack_visual_embeds`` holds one ``[V, D]`` tensor per DeepStack level,
    a row per visual token in prompt order. Returns ``visual_pos_masks[..., keep]`` and each
    level's rows of the kept visual tokens, same kinds and devices.
    """
    keep = _np(keep_mask).astype(bool).reshape(-1)
    visual = _np(visual_pos_masks).astype(bool).reshape(-1)
    if visual.size != keep.size:
        raise ValueError(f"visual_pos_masks covers {visual.size} tokens, the keep mask {keep.size}")
    kept_visual = keep[visual]
    out = []
    for level in deepstack_visual_embeds:
        if level.shape[0] != kept_visual.size:
            raise ValueError(f"a DeepStack level has {level.shape[0]} rows for {kept_visual.size} visual tokens")
        out.append(level[_as_torch(kept_visual, level.device)] if is_torch(level) else np.asarray(level)[kept_visual])
    if is_torch(visual_pos_masks):
        return visual_pos_masks[..., _as_torch(keep, visual_pos_masks.device)], out
    return np.asarray(visual_pos_masks)[..., keep], out
