"""The Qwen2.5 checks (checks.py) for a Qwen3-Omni engine, plus what only Qwen3 has: the
DeepStack rows. Exact where the plugin decides (rows, DeepStack rows, positions, the sidecar's
answer), measured where two frameworks compute (encoders, keep masks through margins.py,
greedy tokens at logit ties)."""

from __future__ import annotations

from typing import Any, Dict, List

import torch

from checks import ENCODER_TOLERANCE, LOGIT_TIE, METRICS, STEPS, Run, decode_position_rule, differences
from hf_reference_qwen3 import PROMPT
import media


def qwen3_request(clip: Dict[str, Any], prompt: str = PROMPT, **mm_kwargs: Any) -> Dict[str, Any]:
    """The clip as vLLM takes it: frames with their metadata (2 fps), the audio track, and no
    fps in mm_processor_kwargs (the plugin reads the frames' rate from the metadata)."""
    frames = clip["frames"]
    return {"prompt": prompt,
            "multi_modal_data": {"video": (frames, media.video_metadata(len(frames))),
                                 "audio": (clip["audio"], media.SAMPLE_RATE)},
            "mm_processor_kwargs": {"use_audio_in_video": True, **mm_kwargs}}


class Qwen3Run(Run):
    """One request through a Qwen3-Omni engine. ``video_rows`` is the engine's record of the
    vision tower's outputs ([Nv, D x (1 + levels)], a hook on ``model.visual``); the new ones
    are this request's. A request served from the encoder cache runs no tower: ``cached_from``
    is the earlier run of the same clip whose rows it reuses."""

    def __init__(self, *args: Any, video_rows: List[torch.Tensor], cached_from: "Qwen3Run | None" = None,
                 **kwargs: Any) -> None:
        seen = len(video_rows)
        super().__init__(*args, **kwargs)
        self.video_rows = video_rows[seen:]
        if cached_from is not None:
            assert self.video_rows == [], "the vision tower ran again for a cached clip"
            self.video_rows = cached_from.video_rows

    def vllm_deepstack(self) -> torch.Tensor:
        """[levels, Nv, D]: the DeepStack channels of vLLM's video rows for this request."""
        assert len(self.video_rows) == 1, f"expected one vision-tower call, got {len(self.video_rows)}"
        rows = self.video_rows[0].cpu()
        d = self.sent.video.shape[1]
        assert torch.equal(rows[:, :d], self.sent.video), "the sidecar got other video rows than the tower's"
        return rows[:, d:].reshape(rows.shape[0], -1, d).permute(1, 0, 2)

    def expected_deepstack(self) -> torch.Tensor:
        """[levels, K, D]: at each kept video token its DeepStack rows, zero elsewhere (the
        reference adds DeepStack at video positions only)."""
        levels = self.vllm_deepstack()
        out = torch.zeros(levels.shape[0], self.full.length, levels.shape[2])
        out[:, self.is_video] = levels
        return out[:, self.keep]

    def check_deepstack(self) -> None:
        """Exact: the DeepStack rows vLLM's language model got for the prompt's tokens."""
        assert "deepstack" in self.prefill, "no DeepStack rows were recorded at prefill"
        expected = self.expected_deepstack()[:, self.cached:]
        assert torch.equal(self.prefill["deepstack"].cpu(), expected), "DeepStack rows differ from vLLM's own, sliced"
        assert int(self.keep[self.is_video].sum()) > 0 and expected.abs().sum() > 0

    def check_encoders_close(self) -> None:
        """Measured: also the DeepStack channels of vLLM's video rows against transformers'
        DeepStack features, within the rows' tolerance."""
        super().check_encoders_close()
        tol = ENCODER_TOLERANCE
        mine, theirs = self.vllm_deepstack(), torch.stack(self.full.deepstack)
        METRICS[f"{self.label}: DeepStack rows, vLLM vs transformers"] = differences(mine, theirs)
        torch.testing.assert_close(mine, theirs, atol=tol.embed_atol, rtol=tol.embed_rtol)

    def check_greedy(self) -> None:
        rule = decode_position_rule(self.mode, self.full, self.hf.length)
        assert self.decode_positions == [rule(t) for t in range(STEPS - 1)]
        embeds = torch.cat([self.expected_rows()[:self.cached], self.prefill["inputs_embeds"].cpu()])
        positions = torch.cat([self.expected_positions()[:, :self.cached],
                               self.prefill["positions"].reshape(3, -1).cpu()], dim=1)
        visual = self.is_video[self.keep]
        deepstack = [level[visual] for level in self.expected_deepstack()]
        tokens, gaps = self.reference.greedy(embeds[None], positions[:, None], STEPS, rule, visual[None], deepstack)
        vllm_gaps = [self._logprob_gap(t) for t in range(len(self.tokens))]
        common = [t for t in range(min(len(tokens), len(self.tokens))) if tokens[:t] == self.tokens[:t]]
        spread = max(abs(gaps[t] - vllm_gaps[t]) for t in common)
        METRICS[f"{self.label}: greedy top-2 logit gap, transformers (min) / |vLLM - transformers| (max)"] = (
            f"{min(gaps):.3g} / {spread:.3g}")
        if tokens != self.tokens:
            t = next(i for i, (a, b) in enumerate(zip(tokens, self.tokens)) if a != b)
            assert gaps[t] < LOGIT_TIE, (f"greedy token {t}: vLLM {self.tokens[t]}, transformers {tokens[t]} with a "
                                         f"top-2 logit gap of {gaps[t]:.3g} (not a tie: bound {LOGIT_TIE})")
