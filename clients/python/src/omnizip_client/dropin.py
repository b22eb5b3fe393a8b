"""A drop-in for the paper authors' ``omnizip(...)`` that runs the pipeline on the server.

In a model file, replace the reference import with::

    from omnizip_client import omnizip

and keep the call as it is. Differences from the reference, all deliberate:

- the computation happens in the omnizip server (``$OMNIZIP_URL``, or ``client=``);
- ties between equal scores break toward the lower index (deterministic on any hardware);
- ``audio_tokens_per_sec`` is accepted and ignored, as the reference ignores it too;
- a batch must have one prompt (``[1, L, D]`` or ``[L, D]``) and ``video_grid_thw`` one video.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

import numpy as np

from .apply import write_merged
from .client import Client
from .codec import is_torch

__all__ = ["omnizip", "default_client", "set_default_client"]

_default: Optional[Client] = None
_lock = threading.Lock()


def default_client() -> Client:
    """The process-wide client used when ``omnizip(..., client=None)``: ``$OMNIZIP_URL``."""
    global _default
    with _lock:
        if _default is None:
            _default = Client()
        return _default


def set_default_client(client: Optional[Client]) -> None:
    """Replace (or, with None, forget) the process-wide client."""
    global _default
    with _lock:
        _default = client


def _one_grid(video_grid_thw: Any) -> Any:
    grid = video_grid_thw.detach().cpu().numpy() if is_torch(video_grid_thw) else np.asarray(video_grid_thw)
    grid = grid.astype(np.int64)
    if grid.ndim == 2 and grid.shape[0] != 1:
        raise ValueError(f"video_grid_thw has {grid.shape[0]} videos; OmniZip compresses one video per prompt")
    return grid.reshape(-1)[:3]


def omnizip(
    input_embeds: Any,
    attn_logits: Any,
    input_ids: Any,
    audio_token_id: int,
    video_token_id: int,
    video_grid_thw: Any,
    audio_tokens_per_sec: int = 25,
    merging_ratio_audio: float = 0.5,
    merging_ratio_v: float = 0.5,
    contextual_ratio: float = 0.05,
    g: int = 3,
    *,
    client: Optional[Client] = None,
) -> Tuple[Any, Any]:
    """Compress one prompt like the reference: returns ``(embeds, global_mask)``.

    ``embeds`` is ``input_embeds`` (same shape, ``[1, L, D]`` or ``[L, D]``) with the merged
    audio anchors written in place; ``global_mask`` a bool ``[L]`` keep mask on the same
    device. ``attn_logits`` are the per-audio-token importance scores ``[Na]``. Torch in,
    torch out; numpy in, numpy out. The caller then slices, as the reference's caller does::

        embeds, mask = omnizip(inputs_embeds, attn_logits, input_ids, ...)
        inputs_embeds = embeds[:, mask, :]
        attention_mask = attention_mask[:, mask]
        position_ids = position_ids[:, :, mask]
    """
    del audio_tokens_per_sec  # unused by the pipeline (the reference ignores it as well)
    shape = tuple(input_embeds.shape)
    if len(shape) == 3 and shape[0] != 1:
        raise ValueError(f"input_embeds has batch size {shape[0]}; compress one prompt at a time (batch of 1)")
    if len(shape) not in (2, 3):
        raise ValueError(f"input_embeds must be [L, D] or [1, L, D], got {list(shape)}")
    c = client if client is not None else default_client()
    result = c.compress(
        input_embeds,
        input_ids,
        attn_logits,
        _one_grid(video_grid_thw),
        rho_audio=float(merging_ratio_audio),
        rho_video=float(merging_ratio_v),
        contextual_ratio=float(contextual_ratio),
        g=int(g),
        audio_token_id=int(audio_token_id),
        video_token_id=int(video_token_id),
    )
    embeds = write_merged(result, input_embeds)
    mask = result.keep_mask
    if is_torch(input_embeds):
        import torch

        mask = (mask if is_torch(mask) else torch.from_numpy(np.asarray(mask))).to(device=input_embeds.device, dtype=torch.bool)
    elif is_torch(mask):
        mask = mask.numpy()
    return embeds, mask
