"""The checks every vLLM engine configuration must pass against the transformers reference."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import numpy as np
import torch
from omnizip_client.budget import budget

from conftest import METRICS, Engine, vllm_request

STEPS = 8


def unpack(bits: np.ndarray, n: int) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(bits)[:n].astype(bool))


def sidecar_keep_mask(full_prompt: Any, call: Dict[str, Any], cfg: Any) -> torch.Tensor:
    """The sidecar's split-layout answer in vLLM, mapped onto the FULL transformers prompt."""
    ids = full_prompt.input_ids[0]
    audio, video = ids == cfg.audio_token_id, ids == cfg.video_token_id
    keep = torch.ones(ids.shape[0], dtype=torch.bool)
    keep[audio] = unpack(call["audio_keep"], int(audio.sum()))
    keep[video] = unpack(call["video_keep"], int(video.sum()))
    return keep


def decode_position_rule(mode: str, full_prompt: Any, compressed_len: int) -> Callable[[int], int]:
    full_max = int(full_prompt.position_ids.max())
    if mode == "reference":  # the reference's generate(): L + t + rope_deltas == max + 1 + t
        return lambda t: full_max + 1 + t
    return lambda t: compressed_len + t + full_prompt.rope_deltas  # unpruned rope_deltas on vLLM's counter


class Run:
    """One request through an engine, and what it should equal."""

    def __init__(self, engine: Engine, clip: Dict[str, Any], reference: Any, full_prompt: Any, hf_compressed: Any,
                 mode: str, label: str) -> None:
        calls_before = len(engine.model.omnizip_calls)
        self.out = engine.generate(vllm_request(clip), max_tokens=STEPS)
        self.new_calls = len(engine.model.omnizip_calls) - calls_before
        self.call = engine.model.omnizip_calls[-1]
        self.tokens: List[int] = list(self.out.outputs[0].token_ids)
        self.prompt_ids: List[int] = list(self.out.prompt_token_ids)
        self.cached = int(self.out.num_cached_tokens or 0)  # prefix-cache hits are not recomputed
        computed = len(self.prompt_ids) - self.cached
        self.prefill = engine.prefill(computed)
        self.decode_positions = engine.decode_positions(computed)
        self.engine, self.reference, self.full, self.hf = engine, reference, full_prompt, hf_compressed
        self.cfg = reference.config
        self.mode, self.label = mode, label

    # -- the checks -------------------------------------------------------------------------

    def check_prompt_length(self) -> None:
        """text + K_a + K* (+ short runs): sized from sizes alone, equal to the reference's."""
        full, cfg = self.full, self.cfg
        ids = full.input_ids[0]
        n_audio, n_video = int((ids == cfg.audio_token_id).sum()), int((ids == cfg.video_token_id).sum())
        text = full.length - n_audio - n_video
        grid = full.video_grid_thw[0].tolist()
        per_frame = (grid[1] // 2) * (grid[2] // 2)
        b = budget([50] * 4, [2 * per_frame] * 4, per_frame)
        assert len(self.prompt_ids) == text + b.kept_audio + b.video_target + b.short_video == self.hf.length
        prompt = torch.tensor(self.prompt_ids)
        assert int((prompt == cfg.audio_token_id).sum()) == b.kept_audio
        assert int((prompt == cfg.video_token_id).sum()) == b.video_target + b.short_video
        METRICS[f"{self.label}: prompt tokens before -> after compression"] = f"{full.length} -> {len(self.prompt_ids)}"
        METRICS[f"{self.label}: sidecar call (wall, in vLLM) / server compress"] = (
            f"{self.call['sidecar_ms']:.1f} ms / {self.call['server_ms']} ms")

    def check_positions(self) -> None:
        """Positions reaching the language model == transformers' get_rope_index on the full
        prompt, sliced by the sidecar's keep mask."""
        keep = sidecar_keep_mask(self.full, self.call, self.cfg)
        expected = self.full.position_ids[:, 0, keep][:, self.cached:]
        assert torch.equal(self.prefill["positions"].reshape(3, -1).cpu(), expected)

    def check_embeddings(self) -> None:
        """Embeddings reaching the language model == omnizip_client.apply's on the reference."""
        keep = sidecar_keep_mask(self.full, self.call, self.cfg)
        assert torch.equal(keep, torch.as_tensor(self.hf.result.keep_mask, dtype=torch.bool)), \
            "vLLM's sidecar call kept other tokens than the reference's"
        torch.testing.assert_close(self.prefill["inputs_embeds"].cpu(), self.hf.inputs_embeds[0, self.cached:],
                                   rtol=1e-4, atol=1e-5)

    def check_greedy(self) -> None:
        """Greedy tokens == the transformers thinker fed the same compressed inputs, decoding
        at the positions of the configured mode (also checked directly)."""
        rule = decode_position_rule(self.mode, self.full, self.hf.length)
        assert self.decode_positions == [rule(t) for t in range(STEPS - 1)]
        assert self.tokens == self.reference.greedy(self.hf, STEPS, rule)
