"""The reference's audio importance scores, from the audio encoder's last-layer Q and K.

The reference (its patched ``Qwen2_5OmniAudioEncoder``) scores audio token k by the
last-layer self-attention it receives, computed over the whole clip (not the encoder's
windows): ``softmax(Q K^T / sqrt(d))`` per head, averaged over heads, summed over queries,
then averaged in pairs (50 Hz encoder frames -> 25 Hz audio tokens; an odd last frame is
dropped). Only the ranking matters to OmniZip.

:class:`QKCapture` hooks the last layer's ``q_proj`` / ``k_proj`` outputs, so it works
whatever attention backend the tower runs (eager, SDPA, flash): the attention matrix itself
is never needed from the backend. :func:`audio_scores` computes the formula in float32 in
blocks of queries (peak memory O(block x T), not O(heads x T x T));
:func:`eager_audio_scores` is the literal formula, for tests.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import nn

__all__ = ["QKCapture", "audio_scores", "eager_audio_scores"]


class QKCapture:
    """Forward hooks on an attention module's ``q_proj`` and ``k_proj``; armed only inside
    ``with capture:`` (so plain audio requests and profiling keep nothing)."""

    def __init__(self, attention: nn.Module) -> None:
        self.num_heads = int(getattr(attention, "num_heads", 0) or attention.config.encoder_attention_heads)
        self._armed = False
        self.q: List[torch.Tensor] = []
        self.k: List[torch.Tensor] = []
        attention.q_proj.register_forward_hook(self._hook(self.q))
        attention.k_proj.register_forward_hook(self._hook(self.k))

    def _hook(self, store: List[torch.Tensor]):
        def hook(module: nn.Module, args: object, output: torch.Tensor) -> None:
            if self._armed:
                store.append(output.detach())
        return hook

    def __enter__(self) -> "QKCapture":
        self.q.clear()
        self.k.clear()
        self._armed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._armed = False

    def take(self) -> "tuple[torch.Tensor, torch.Tensor]":
        """The captured [T_total, d_model] Q and K of the last call (frames of all clips)."""
        if len(self.q) != 1 or len(self.k) != 1:
            raise RuntimeError(f"expected one audio-tower call to capture, got {len(self.q)} Q and {len(self.k)} K")
        q, k = self.q.pop(), self.k.pop()
        return q, k


def _pairs(received: torch.Tensor) -> torch.Tensor:
    n = received.shape[0] - received.shape[0] % 2
    return received[:n].view(-1, 2).mean(dim=-1)


def audio_scores(q: torch.Tensor, k: torch.Tensor, num_heads: int, lengths: Sequence[int],
                 block: int = 1024) -> List[torch.Tensor]:
    """Scores per clip: ``q``/``k`` are [sum(lengths), d_model] (clips back to back)."""
    out: List[torch.Tensor] = []
    start = 0
    for n in (int(x) for x in lengths):
        qh = q[start:start + n].float().reshape(n, num_heads, -1).transpose(0, 1)  # [H, n, d]
        kh = k[start:start + n].float().reshape(n, num_heads, -1).transpose(0, 1)
        start += n
        scale = qh.shape[-1] ** -0.5
        received = torch.zeros(n, dtype=torch.float32, device=q.device)
        for h in range(num_heads):
            for a in range(0, n, block):
                weights = torch.softmax((qh[h, a:a + block] @ kh[h].T) * scale, dim=-1)
                received += weights.sum(dim=0)
        out.append(_pairs(received / num_heads))
    if start != q.shape[0]:
        raise ValueError(f"clip lengths sum to {start} frames but Q has {q.shape[0]}")
    return out


def eager_audio_scores(q: torch.Tensor, k: torch.Tensor, num_heads: int,
                       lengths: Optional[Sequence[int]] = None) -> List[torch.Tensor]:
    """The literal formula, one [H, T, T] matrix per clip (tests only)."""
    lengths = [q.shape[0]] if lengths is None else list(lengths)
    out, start = [], 0
    for n in lengths:
        qh = q[start:start + n].float().reshape(n, num_heads, -1).transpose(0, 1)
        kh = k[start:start + n].float().reshape(n, num_heads, -1).transpose(0, 1)
        start += n
        attn = torch.softmax(qh @ kh.transpose(-1, -2) / (qh.shape[-1] ** 0.5), dim=-1)
        out.append(_pairs(attn.mean(dim=0).sum(dim=0)))
    return out
