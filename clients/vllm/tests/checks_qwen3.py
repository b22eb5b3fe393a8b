"""The Qwen2.5 checks (checks.py) for a Qwen3-Omni engine, plus what only Qwen3 has: the
DeepStack rows. Exact where the plugin decides (rows, DeepStack rows, positions, the sidecar's
answer), measured where two frameworks compute (encoders, keep masks through margins.py,
greedy tokens at logit ties)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import torch

from checks import ENCODER_TOLERANCE, METRICS, STEPS, Run, differences
from hf_reference_qwen3 import PROMPT
import media


def record_video_rows(engine: Any) -> Any:
    """Keeps the vision tower's outputs of every request in ``engine.video_rows``."""
    engine.video_rows = []
    engine.model.visual.register_forward_hook(lambda module, args, out: engine.video_rows.append(out.detach().clone()))
    return engine


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

    def _reference_greedy(self, embeds: torch.Tensor, positions: torch.Tensor,
                          rule: Callable[[int], int]) -> Tuple[List[int], List[float]]:
        """With the DeepStack rows vLLM used at the kept video tokens (check_deepstack)."""
        visual = self.is_video[self.keep]
        deepstack = [level[visual] for level in self.expected_deepstack()]
        return self.reference.greedy(embeds[None], positions[:, None], STEPS, rule, visual[None], deepstack)


def qwen3_run(engine: Any, clip: Dict[str, Any], reference: Any, full: Any, compressed: Any, client: Any, label: str,
              cached_from: "Qwen3Run | None" = None) -> Qwen3Run:
    """The clip through a Qwen3-Omni engine (made with record_video_rows)."""
    return Qwen3Run(engine, clip, reference, full, compressed, client, mode="reference", label=label,
                    request=qwen3_request(clip), video_rows=engine.video_rows, cached_from=cached_from)
