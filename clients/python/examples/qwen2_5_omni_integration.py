#!/usr/bin/env python3
"""Where OmniZip goes in a Qwen2.5-Omni thinker forward, and what happens to the positions.

The integration point (the reference does the same in its patched
``Qwen2_5OmniThinkerForConditionalGeneration.forward``), at prefill only, after

  1. the text embeddings got the audio / video features scattered in
     (``inputs_embeds.masked_scatter(audio_mask, audio_features)`` and likewise for video),
  2. the 3-D M-RoPE ids were computed for the FULL prompt:
     ``position_ids, rope_deltas = self.get_rope_index(input_ids, image_grid_thw, video_grid_thw,
     attention_mask, use_audio_in_video, audio_feature_lengths, video_second_per_grid)``,
     ``position_ids`` is ``[3, 1, L]``, ``rope_deltas = max(position_ids) + 1 - L``,

and before ``self.model(inputs_embeds=..., attention_mask=..., position_ids=..., cache_position=...)``:

    result = client.compress(inputs_embeds, input_ids, audio_scores, video_grid_thw, rho_audio=0.3, ...)
    inputs_embeds, attention_mask, position_ids = omnizip_client.apply(result, inputs_embeds, attention_mask, position_ids)

(or, keeping the reference's code as it is, ``from omnizip_client import omnizip``, then
``embeds, mask = omnizip(...)`` and ``embeds[:, mask, :]``, ``attention_mask[:, mask]``,
``position_ids[:, :, mask]``). ``audio_scores`` are the audio encoder's last-layer attention
received by each audio token (the reference's ``attn_logits``).

What must hold afterwards (this script checks every line of it):

- positions: the kept tokens keep their ORIGINAL M-RoPE ids (slice, never recompute);
- ``rope_deltas`` stays the value computed from the unpruned prompt, so the first generated
  token is at ``L + rope_deltas = max(position_ids) + 1``, as without compression;
- ``attention_mask``: sliced to ``[1, K]`` for the prefill; during decoding it must cover the
  K cached tokens plus the new ones (``[1, K + t + 1]``), not ``L + t + 1``;
- ``cache_position``: ``arange(K)`` at prefill and ``K + t`` at decoding step t (where keys are
  written in the KV cache). transformers derives decoding positions as
  ``cache_position[0] + rope_deltas``; with a pruned cache that is L - K too small, so either
  keep the unpruned step counter for positions (``L + t``) or add ``L - K`` to the delta
  you use there. Both give ``max(position_ids) + 1 + t``.

Run it (self-contained: numpy stand-ins for the thinker, no transformers or weights needed):

    python examples/qwen2_5_omni_integration.py            # $OMNIZIP_URL, or starts .build/release/omnizip
    python examples/qwen2_5_omni_integration.py --torch    # the same with torch tensors, if torch is installed
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np

import omnizip_client
from omnizip_client.local_server import LocalServer, find_binary

AUDIO_ID, VIDEO_ID = 151646, 151656  # Qwen2.5-Omni's audio / video placeholder tokens
AUDIO_PER_CHUNK = 50  # 2 s of audio at 25 tokens/s
POSITIONS_PER_GRID = 25  # one temporal grid = 2 frames at 2 fps = 1 s = 25 positions
REPO = Path(__file__).resolve().parents[3]


# --------------------------------------------------------------------------- stand-ins


def build_prompt(chunks: int, grid_h: int, grid_w: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """input_ids of a use_audio_in_video prompt: text, then per 2-s chunk 2 temporal grids of
    video followed by 50 audio tokens, then text. Returns (input_ids [1, L], video_grid_thw)."""
    per_grid = (grid_h // 2) * (grid_w // 2)
    ids: List[int] = list(rng.integers(100, 1000, 5))
    for _ in range(chunks):
        ids += [VIDEO_ID] * (2 * per_grid) + [AUDIO_ID] * AUDIO_PER_CHUNK
    ids += list(rng.integers(100, 1000, 7))
    return np.array([ids], dtype=np.int64), np.array([[2 * chunks, grid_h, grid_w]], dtype=np.int64)


def mrope_position_ids(input_ids: np.ndarray, grid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """A stand-in for ``get_rope_index`` (TMRoPE, use_audio_in_video): text advances all three
    axes by one; in the audio-visual block, a video token of temporal grid g at (h, w) gets
    (start + 25 g, start + h, start + w) and audio token j gets start + j on all axes, so audio
    and video of the same moment share a temporal position. Returns ([3, 1, L], rope_deltas [1, 1])."""
    ids = input_ids[0]
    _, gh, gw = (int(x) for x in grid[0])
    h, w = gh // 2, gw // 2
    pos = np.zeros((3, ids.size), dtype=np.int64)
    cursor, i, video_seen, audio_seen, start = 0, 0, 0, 0, None
    while i < ids.size:
        if ids[i] in (AUDIO_ID, VIDEO_ID):
            if start is None:
                start = cursor
            if ids[i] == VIDEO_ID:
                g, rest = divmod(video_seen, h * w)
                pos[:, i] = (start + POSITIONS_PER_GRID * g, start + rest // w, start + rest % w)
                video_seen += 1
            else:
                pos[:, i] = start + audio_seen
                audio_seen += 1
            cursor = max(cursor, int(pos[:, i].max()) + 1)
        else:
            pos[:, i] = cursor
            cursor += 1
        i += 1
    deltas = np.array([[int(pos.max()) + 1 - ids.size]])
    return pos[:, None, :], deltas


@dataclass
class ToyLanguageModel:
    """Records what a decoder would get, and checks it is consistent with its KV cache."""

    cached: int = 0
    seen_positions: Optional[np.ndarray] = None

    def __call__(self, inputs_embeds: Any, attention_mask: Any, position_ids: Any, cache_position: Any) -> None:
        n = inputs_embeds.shape[1]
        assert tuple(position_ids.shape) == (3, 1, n), position_ids.shape
        assert tuple(attention_mask.shape) == (1, self.cached + n), "mask must cover the cache plus the new tokens"
        assert list(np.asarray(cache_position)) == list(range(self.cached, self.cached + n)), "cache slots"
        self.cached += n
        self.seen_positions = np.asarray(position_ids)


def as_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if omnizip_client.codec.is_torch(x) else np.asarray(x)


# --------------------------------------------------------------------------- the integration


def prefill_with_omnizip(client: omnizip_client.Client, model: ToyLanguageModel, input_ids: Any, inputs_embeds: Any,
                         attention_mask: Any, video_grid_thw: Any, audio_scores: Any, **params: Any) -> Tuple[int, int, Any]:
    """The thinker's prefill with OmniZip. Returns (L, K, rope_deltas)."""
    # (2) M-RoPE ids for the FULL prompt, before any pruning.
    position_ids, rope_deltas = mrope_position_ids(as_numpy(input_ids), as_numpy(video_grid_thw))
    if omnizip_client.codec.is_torch(inputs_embeds):
        import torch

        position_ids, rope_deltas = torch.from_numpy(position_ids), torch.from_numpy(rope_deltas)

    # (3) OmniZip: the server decides; apply() writes the merged audio anchors and slices.
    result = client.compress(inputs_embeds, input_ids, audio_scores, video_grid_thw, **params)
    pruned = omnizip_client.apply(result, inputs_embeds, attention_mask, position_ids)

    # (4) The language model on K tokens: original positions, cache slots 0..K-1.
    length, kept = int(result.counts.total), int(result.counts.kept)
    model(pruned.inputs_embeds, pruned.attention_mask, pruned.position_ids, cache_position=np.arange(kept))

    # What must hold: kept tokens at their original positions; rope_deltas untouched.
    full = as_numpy(position_ids)
    keep = as_numpy(result.keep_mask)
    assert np.array_equal(as_numpy(pruned.position_ids), full[:, :, keep])
    assert int(as_numpy(rope_deltas)[0, 0]) == int(full.max()) + 1 - length
    return length, kept, rope_deltas


def decode_steps(model: ToyLanguageModel, length: int, kept: int, rope_deltas: Any, steps: int) -> List[int]:
    """Generated tokens: positions continue from the unpruned prompt, the cache from K."""
    positions = []
    delta = int(as_numpy(rope_deltas)[0, 0])
    for t in range(steps):
        unpruned_step = length + t  # what generate()'s cache_position says without pruning
        position = unpruned_step + delta  # == max(prompt positions) + 1 + t
        cache_position = np.array([kept + t])  # == (length + t) - (length - kept): the real cache slot
        attention_mask = np.ones((1, kept + t + 1), dtype=np.int64)
        model(np.zeros((1, 1, 8), np.float32), attention_mask, np.full((3, 1, 1), position), cache_position)
        positions.append(position)
    return positions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="server (default: $OMNIZIP_URL, else start the repository's binary)")
    ap.add_argument("--torch", action="store_true", help="use torch tensors (BF16 embeddings)")
    ap.add_argument("--chunks", type=int, default=6, help="2-second chunks of video+audio (default 6)")
    args = ap.parse_args()

    server = None
    url = args.url or os.environ.get("OMNIZIP_URL")
    if not url:
        binary = find_binary(REPO)
        if binary is None:
            print("set OMNIZIP_URL, pass --url, or build the server (swift build -c release)", file=sys.stderr)
            return 2
        server = LocalServer(binary, "--workers", "2")
        url = server.url
    try:
        rng = np.random.default_rng(7)
        input_ids, grid = build_prompt(args.chunks, grid_h=8, grid_w=12, rng=rng)  # P = 4 * 6 = 24 per frame
        length, hidden = input_ids.shape[1], 64
        # (1) embeddings with audio / video features scattered in (random stand-ins here)
        inputs_embeds = rng.standard_normal((1, length, hidden)).astype(np.float32)
        n_audio = int((input_ids == AUDIO_ID).sum())
        audio_scores = rng.random(n_audio).astype(np.float32)  # the audio encoder's attention, in a real model
        attention_mask = np.ones((1, length), dtype=np.int64)
        if args.torch:
            import torch

            inputs_embeds = torch.from_numpy(inputs_embeds).to(torch.bfloat16)
            input_ids, grid = torch.from_numpy(input_ids), torch.from_numpy(grid)
            audio_scores, attention_mask = torch.from_numpy(audio_scores), torch.from_numpy(attention_mask)

        model = ToyLanguageModel()
        with omnizip_client.Client(url) as client:
            L, K, deltas = prefill_with_omnizip(client, model, input_ids, inputs_embeds, attention_mask, grid,
                                                audio_scores, rho_audio=0.3, rho_video=0.6, contextual_ratio=0.05, g=3)
        first_positions = decode_steps(model, L, K, deltas, steps=3)
        prompt_max = int(mrope_position_ids(as_numpy(input_ids), as_numpy(grid))[0].max())
        assert first_positions == [prompt_max + 1, prompt_max + 2, prompt_max + 3]

        print(f"prompt: {L} tokens ({n_audio} audio, {int((as_numpy(input_ids) == VIDEO_ID).sum())} video), "
              f"embeddings {'torch bfloat16' if args.torch else 'numpy float32'}")
        print(f"prefill: {K} tokens after OmniZip ({100 * K / L:.1f}%), cache_position 0..{K - 1}")
        print(f"rope_deltas {int(as_numpy(deltas)[0, 0])} (unchanged); max prompt position {prompt_max}")
        print(f"decode: positions {first_positions}, cache slots {K}..{K + 2}, KV cache now {model.cached}")
        print("all integration checks passed")
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
