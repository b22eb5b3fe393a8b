#!/usr/bin/env python3
"""Where OmniZip goes in a Qwen3-Omni thinker forward: positions, the visual mask and DeepStack.

The authors' Qwen3-Omni hook sits in ``Qwen3OmniMoeThinkerForConditionalGeneration.forward``,
at prefill, after

  1. the text embeddings got the audio features and the MAIN video features scattered in, the
     vision tower's DeepStack features (one ``[V, D]`` tensor per level) kept aside with
     ``visual_pos_masks`` (the video placeholders, ``[1, L]``),
  2. ``position_ids, rope_deltas = self.get_rope_index(...)`` on the FULL prompt,

and before ``self.model(inputs_embeds=..., position_ids=..., visual_pos_masks=...,
deepstack_visual_embeds=...)``. It calls the same core function as for Qwen2.5-Omni, so the
drop-in works unchanged with Qwen3's ids and defaults (or use ``model="qwen3-omni"`` with the
client)::

    embeds, mask = omnizip(input_embeds=inputs_embeds, attn_logits=audio_scores, input_ids=input_ids,
                           audio_token_id=151675, video_token_id=151656, video_grid_thw=video_grid_thw,
                           merging_ratio_audio=0.4, merging_ratio_v=0.7, contextual_ratio=0.05, g=3)
    inputs_embeds, position_ids = embeds[:, mask, :], position_ids[:, :, mask]
    attention_mask = attention_mask[:, mask]
    visual_pos_masks, deepstack_visual_embeds = slice_deepstack(mask, visual_pos_masks, deepstack_visual_embeds)

``audio_scores`` are the last audio layer's attention received by each audio token WITHIN each
encoder window (104 tokens with the real config), averaged over heads and summed over the
window's queries (``omnizip_vllm.scores.windowed_audio_scores`` computes them from captured
Q/K). What must hold afterwards (this script checks every line):

- kept tokens keep their ORIGINAL M-RoPE ids; ``rope_deltas`` stays the unpruned value, so
  decoding continues at ``max(position_ids) + 1 + t``;
- ``visual_pos_masks`` is sliced like the prompt, and each DeepStack level keeps exactly the
  rows of the kept video tokens, in order (one row per True of the sliced mask);
- the span's layout: every temporal grid is one video run followed by ``second_per_grid x 13``
  audio tokens (13 at 2 fps), so each run pairs one grid with its audio.

Run it (self-contained: numpy stand-ins for the thinker, no transformers or weights needed):

    python examples/qwen3_omni_integration.py            # $OMNIZIP_URL, or starts .build/release/omnizip
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Tuple

import numpy as np

import omnizip_client
from omnizip_client.local_server import LocalServer, find_binary

AUDIO_ID, VIDEO_ID, IMAGE_ID = 151675, 151656, 151655  # Qwen3-Omni's placeholders
VISION_START, AUDIO_START, AUDIO_END, VISION_END = 151652, 151669, 151670, 151653
AUDIO_PER_GRID = 13  # 1 s per temporal grid (2 frames at 2 fps) x 13 positions per second
LEVELS = 3  # DeepStack levels of the real vision tower (layers 8, 16, 24)
REPO = Path(__file__).resolve().parents[3]


def build_prompt(grids: int, grid_h: int, grid_w: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """input_ids [1, L] of a use_audio_in_video prompt as Qwen3-Omni's processor lays it out,
    and its position ids [3, 1, L] as ``get_rope_index`` computes them: <|vision_start|> at st,
    <|audio_start|> st + 1; audio token j at st + 2 + j; video grid k at (st + 2 + 13 k, st + 2 + h,
    st + 2 + w); <|audio_end|> one past the last piece, <|vision_end|> one more; text by one."""
    p_h, p_w = grid_h // 2, grid_w // 2
    ids: List[int] = list(rng.integers(100, 1000, 5)) + [VISION_START, AUDIO_START]
    pos: List[Tuple[int, int, int]] = [(i, i, i) for i in range(7)]  # text 0..4, vision 5, audio start 6
    st = 5
    last_max = st + 1
    for k in range(grids):
        for h in range(p_h):
            for w in range(p_w):
                ids.append(VIDEO_ID)
                pos.append((st + 2 + AUDIO_PER_GRID * k, st + 2 + h, st + 2 + w))
        for j in range(AUDIO_PER_GRID * k, AUDIO_PER_GRID * (k + 1)):
            ids.append(AUDIO_ID)
            pos.append((st + 2 + j,) * 3)
        last_max = st + 2 + AUDIO_PER_GRID * (k + 1) - 1
    ids += [AUDIO_END, VISION_END]
    pos += [(last_max + 1,) * 3, (last_max + 2,) * 3]
    for i, t in enumerate(rng.integers(100, 1000, 7)):
        ids.append(int(t))
        pos.append((last_max + 3 + i,) * 3)
    position_ids = np.array(pos, dtype=np.int64).T[:, None, :]
    return np.array([ids], dtype=np.int64), position_ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="server (default: $OMNIZIP_URL, else start the repository's binary)")
    ap.add_argument("--grids", type=int, default=8, help="temporal grids (seconds of video at 2 fps; default 8)")
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
        rng = np.random.default_rng(3)
        grid_h, grid_w = 8, 12  # P = 4 x 6 = 24 tokens per temporal grid
        input_ids, position_ids = build_prompt(args.grids, grid_h, grid_w, rng)
        length, hidden = input_ids.shape[1], 64
        rope_deltas = int(position_ids.max()) + 1 - length
        video_grid_thw = np.array([[args.grids, grid_h, grid_w]], dtype=np.int64)
        # (1) embeddings with the features scattered in, and the DeepStack rows (random stand-ins)
        inputs_embeds = rng.standard_normal((1, length, hidden)).astype(np.float32)
        visual_pos_masks = input_ids == VIDEO_ID
        n_video, n_audio = int(visual_pos_masks.sum()), int((input_ids == AUDIO_ID).sum())
        deepstack = [rng.standard_normal((n_video, hidden)).astype(np.float32) for _ in range(LEVELS)]
        audio_scores = rng.random(n_audio).astype(np.float32)
        attention_mask = np.ones((1, length), dtype=np.int64)

        # (2) OmniZip through the drop-in, exactly as the reference's hook calls its core.
        with omnizip_client.Client(url) as client:
            embeds, mask = omnizip_client.omnizip(
                input_embeds=inputs_embeds, attn_logits=audio_scores, input_ids=input_ids,
                audio_token_id=AUDIO_ID, video_token_id=VIDEO_ID, video_grid_thw=video_grid_thw,
                merging_ratio_audio=0.4, merging_ratio_v=0.7, contextual_ratio=0.05, g=3, client=client)
        pruned_embeds, pruned_positions = embeds[:, mask, :], position_ids[:, :, mask]
        pruned_attention = attention_mask[:, mask]
        pruned_visual, pruned_deepstack = omnizip_client.slice_deepstack(mask, visual_pos_masks, deepstack)

        # What must hold.
        kept = int(mask.sum())
        assert pruned_embeds.shape == (1, kept, hidden) and pruned_attention.shape == (1, kept)
        assert np.array_equal(pruned_positions, position_ids[:, :, mask]), "positions are sliced, never recomputed"
        assert np.array_equal(pruned_visual, (input_ids == VIDEO_ID)[:, mask])
        video_index = np.cumsum(visual_pos_masks[0]) - 1  # each token's row in the DeepStack levels
        kept_video_rows = video_index[mask & visual_pos_masks[0]]
        for level, sliced in zip(deepstack, pruned_deepstack):
            assert sliced.shape == (int(pruned_visual.sum()), hidden)
            assert np.array_equal(sliced, level[kept_video_rows]), "DeepStack rows follow the kept video tokens"
        first_position = length + rope_deltas  # generate()'s unpruned counter + the unpruned delta
        assert first_position == int(position_ids.max()) + 1

        print(f"prompt: {length} tokens ({n_audio} audio, {n_video} video in {args.grids} one-grid runs)")
        print(f"prefill: {kept} tokens after OmniZip ({100 * kept / length:.1f}%), "
              f"{int(pruned_visual.sum())} video tokens with their {LEVELS} DeepStack rows each")
        print(f"decoding starts at position {first_position} (max prompt position + 1)")
        print("all integration checks passed")
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
