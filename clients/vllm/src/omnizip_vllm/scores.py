"""The reference's audio importance scores, from the audio encoder's last-layer Q and K.

Qwen2.5-Omni (:func:`audio_scores`) and Qwen3-Omni (:func:`windowed_audio_scores`) differ;
both sections below.

Qwen2.5-Omni
------------

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

from typing import Any, List, Optional, Sequence

import torch
from torch import nn

__all__ = ["QKCapture", "QKVCapture", "audio_scores", "eager_audio_scores", "qwen3_audio_windows",
           "windowed_audio_scores"]


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


def _heads(x: torch.Tensor, num_heads: int, dtype: torch.dtype) -> torch.Tensor:
    """[T, H*d] -> [H, T, d] in ``dtype`` (the layer's projection output split into heads)."""
    n = x.shape[0]
    return x.to(dtype).reshape(n, num_heads, -1).transpose(0, 1)


def _pairs(received: torch.Tensor) -> torch.Tensor:
    n = received.shape[0] - received.shape[0] % 2
    return received[:n].view(-1, 2).mean(dim=-1)


def audio_scores(q: torch.Tensor, k: torch.Tensor, num_heads: int, lengths: Sequence[int],
                 block: int = 1024) -> List[torch.Tensor]:
    """Scores per clip: ``q``/``k`` are [sum(lengths), d_model] (clips back to back)."""
    out: List[torch.Tensor] = []
    start = 0
    for n in (int(x) for x in lengths):
        qh = _heads(q[start:start + n], num_heads, torch.float32)  # [H, n, d]
        kh = _heads(k[start:start + n], num_heads, torch.float32)
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


# ---------------------------------------------------------------------------- Qwen3-Omni
#
# The reference (its patched Qwen3OmniMoeAudioEncoder) scores with the LAST audio layer only,
# per attention window of the encoder (``cu_seqlens``: 13 tokens per 100-mel-frame chunk,
# ``n_window_infer // (2 * n_window)`` chunks per window, 104 tokens = 8 s with the real
# config; the last window of a clip is the remainder): ``softmax(q_w k_w^T * d^-0.5)`` over the
# keys of the same window, mean over the heads, summed over the window's queries. No pair
# averaging (Qwen3's audio tokens are the encoder frames), so each window's scores sum to its
# length. The reference runs this in the model dtype (bf16), which collapses a window's scores
# to a handful of distinct values; the default here is float32.


def qwen3_audio_windows(feature_lengths: Sequence[int], n_window: int = 50, n_window_infer: int = 800) -> torch.Tensor:
    """The audio encoder's attention windows (``cu_seqlens``, int32 [W + 1]) from the clips' mel
    lengths alone, by transformers' ``get_audio_cu_seqlens`` rule for a batch of clips (vLLM
    0.32's Qwen3 audio tower has the same rule; the tests check transformers'). The window is
    ``tokens of the longest 2*n_window chunk in the batch x n_window_infer // (2*n_window)``;
    each clip is cut into windows of that size plus its remainder. A clip's own windows do not
    depend on its batch: any clip of >= 2*n_window frames makes the longest chunk 13 tokens,
    and a shorter clip fits in one window whatever the batch."""
    chunk = 2 * n_window

    def tokens(n: int) -> int:  # _get_feat_extract_output_lengths
        rest = n % chunk
        f = (rest - 1) // 2 + 1
        return ((f - 1) // 2 + 1 - 1) // 2 + 1 + (n // chunk) * 13

    lengths = [int(x) for x in feature_lengths]
    chunks = []
    for n in lengths:
        count = -(-n // chunk)
        chunks += [chunk] * (count - 1) + ([n % chunk or chunk] if count else [])
    if not chunks:
        return torch.zeros(1, dtype=torch.int32)
    window = max(tokens(c) for c in chunks) * (n_window_infer // chunk)
    cu = [0]
    for n in lengths:
        t = tokens(n)
        cu += [window] * (t // window) + ([t % window] if t % window else [])
    return torch.tensor(cu, dtype=torch.int64).cumsum(0).to(torch.int32)


def windowed_audio_scores(q: torch.Tensor, k: torch.Tensor, num_heads: int, cu_seqlens: Any, *,
                          dtype: Optional[torch.dtype] = torch.float32, block: int = 1024) -> torch.Tensor:
    """Qwen3-Omni's audio scores, one per audio token: [T] for ``q``/``k`` [T, H*d].

    ``cu_seqlens`` are the encoder's own windows (the last layer's, e.g. from
    :class:`QKVCapture`, or :func:`qwen3_audio_windows`); clips lie back to back and no window
    crosses two clips, so the scores of clip c are the slice of its tokens.

    ``dtype``: what the softmax, the head mean and the query sum run in. float32 (default):
    deterministic, the scores keep their ranking information. ``None``: the dtype of ``q`` (the
    model dtype), as the reference does, whose bf16 scores take only a few distinct values per
    window (the result is in that dtype; for windows of at most ``block`` tokens it is exactly
    the literal per-window formula in that dtype, the reference's GPU kernels may still order
    their sums differently). Queries are processed ``block`` at a time, so memory is
    O(H x block x window), never [H, T, T].
    """
    compute = q.dtype if dtype is None else dtype
    cu = [int(x) for x in (cu_seqlens.tolist() if isinstance(cu_seqlens, torch.Tensor) else cu_seqlens)]
    if q.shape != k.shape or q.dim() != 2 or q.shape[1] % num_heads:
        raise ValueError(f"q and k must both be [T, H*d] with H={num_heads}, got {tuple(q.shape)} and {tuple(k.shape)}")
    if not cu or cu[0] != 0 or cu[-1] != q.shape[0] or any(b < a for a, b in zip(cu, cu[1:])):
        raise ValueError(f"cu_seqlens must rise from 0 to the {q.shape[0]} tokens of q, got {cu[:4]}...{cu[-2:]}")
    qh, kh = _heads(q, num_heads, compute), _heads(k, num_heads, compute)
    scale = qh.shape[-1] ** -0.5
    out = torch.zeros(q.shape[0], dtype=compute, device=q.device)
    for s, e in zip(cu[:-1], cu[1:]):
        keys = kh[:, s:e].transpose(-1, -2)
        for a in range(s, e, block):
            weights = torch.softmax((qh[:, a:min(a + block, e)] @ keys) * scale, dim=-1)  # [H, b, n]
            out[s:e] += weights.mean(dim=0).sum(dim=0)
    return out


class QKVCapture:
    """Captures an audio attention layer's Q, K and attention windows, for
    :func:`windowed_audio_scores`; armed only inside ``with capture:``.

    Works on vLLM's Qwen3-Omni audio attention (fused ``qkv_proj`` returning ``(out, bias)``,
    Q|K|V of the local heads concatenated) and on transformers' (``q_proj``/``k_proj``). The
    windows come from a forward pre-hook on the attention module itself: both take
    ``cu_seqlens`` as their second argument. ``num_heads`` is the heads this rank holds
    (vLLM: ``num_local_heads``; with tensor parallelism the per-rank score sums must be added
    across ranks before dividing by the total head count, which this class does not do).
    """

    def __init__(self, attention: nn.Module) -> None:
        self.num_heads = int(getattr(attention, "num_local_heads", 0) or getattr(attention, "num_heads", 0)
                             or attention.config.encoder_attention_heads)
        self.fused = hasattr(attention, "qkv_proj")
        self._armed = False
        self.q: List[torch.Tensor] = []
        self.k: List[torch.Tensor] = []
        self.cu_seqlens: List[torch.Tensor] = []
        self._handles = [attention.register_forward_pre_hook(self._windows, with_kwargs=True)]
        if self.fused:
            self._handles.append(attention.qkv_proj.register_forward_hook(self._qkv))
        else:
            self._handles.append(attention.q_proj.register_forward_hook(self._store(self.q)))
            self._handles.append(attention.k_proj.register_forward_hook(self._store(self.k)))

    def _windows(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self._armed:
            cu = kwargs["cu_seqlens"] if "cu_seqlens" in kwargs else args[1]
            self.cu_seqlens.append(cu.detach())

    def _qkv(self, module: nn.Module, args: object, output: Any) -> None:
        if self._armed:
            out = output[0] if isinstance(output, tuple) else output
            q, k, _ = out.detach().chunk(3, dim=-1)
            self.q.append(q)
            self.k.append(k)

    def _store(self, store: List[torch.Tensor]):
        def hook(module: nn.Module, args: object, output: torch.Tensor) -> None:
            if self._armed:
                store.append(output.detach())
        return hook

    def __enter__(self) -> "QKVCapture":
        self.q.clear()
        self.k.clear()
        self.cu_seqlens.clear()
        self._armed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._armed = False

    def take(self) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor]":
        """Q [T, H*d], K [T, H*d] and cu_seqlens [W + 1] of the one audio-tower call captured."""
        if not (len(self.q) == len(self.k) == len(self.cu_seqlens) == 1):
            raise RuntimeError(f"expected one audio-tower call to capture, got {len(self.q)} Q, {len(self.k)} K "
                               f"and {len(self.cu_seqlens)} window sets")
        return self.q.pop(), self.k.pop(), self.cu_seqlens.pop()

    def scores(self, **kwargs: Any) -> torch.Tensor:
        """:func:`windowed_audio_scores` of the captured call (consumes it)."""
        q, k, cu = self.take()
        return windowed_audio_scores(q, k, self.num_heads, cu, **kwargs)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
