"""The transformers side for Qwen3-Omni: the reference's flow on the tiny Qwen3-Omni-MoE.

What the authors' Qwen3 hook does at prefill (float32, CPU): scatter the audio and the main
video features into the prompt embeddings, keep the DeepStack features aside, compute the
M-RoPE ids of the FULL prompt (``get_rope_index``), score the audio tokens within the last
audio layer's windows, ask the sidecar (interleaved layout, ``video_budget=exact``), then
slice embeddings and positions by the keep mask and the DeepStack rows by the video keep
mask. Greedy decoding continues at ``max + 1 + t``. Scores are float32 (the plugin's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
from omnizip_client import Client, apply
from omnizip_client.models import MODELS
from omnizip_vllm.scores import QKVCapture
from transformers import AutoProcessor
from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeThinkerForConditionalGeneration

import media
from hf_reference import Compressed, greedy  # the sliced prefill inputs and decoding, as for Qwen2.5

#: Qwen3-Omni's paper defaults (the plugin's defaults for this architecture).
PARAMS = {k: MODELS["qwen3-omni"][k] for k in ("rho_audio", "rho_video", "contextual_ratio", "g")}

PROMPT = ("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>describe the video and the audio please"
          "<|im_end|>\n<|im_start|>assistant\n")
#: An image before the video with sound.
PROMPT_WITH_IMAGE = ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>and"
                     "<|vision_start|><|video_pad|><|vision_end|>describe both please<|im_end|>\n"
                     "<|im_start|>assistant\n")


@dataclass
class Prompt:
    """The full (uncompressed) prompt, as the reference builds it."""

    input_ids: torch.Tensor  # [1, L]
    attention_mask: torch.Tensor  # [1, L]
    inputs_embeds: torch.Tensor  # [1, L, D]
    position_ids: torch.Tensor  # [3, 1, L] int64 (transformers computes them in float32: integers here)
    rope_deltas: int
    audio_scores: torch.Tensor  # [Na] float32, windowed
    deepstack: List[torch.Tensor]  # per level [Nv, D]
    video_grid_thw: torch.Tensor  # [1, 3]
    second_per_grid: float
    audio_feature_length: int

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])


class HFReferenceQwen3:
    def __init__(self, model_dir: Path) -> None:
        self.processor = AutoProcessor.from_pretrained(str(model_dir))
        self.model = Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(str(model_dir),
                                                                                 dtype=torch.float32).eval()
        self.config = self.model.config
        self.capture = QKVCapture(self.model.audio_tower.layers[-1].self_attn)

    def processed(self, audio: np.ndarray, frames: np.ndarray, prompt: str = PROMPT, image: Optional[np.ndarray] = None):
        extra = {"images": [image]} if image is not None else {}
        return self.processor(text=[prompt], audio=[audio], videos=[frames], return_tensors="pt",
                              use_audio_in_video=True, videos_kwargs={"fps": media.FPS}, **extra)

    @torch.no_grad()
    def prompt(self, audio: np.ndarray, frames: np.ndarray, prompt: str = PROMPT,
               image: Optional[np.ndarray] = None) -> Prompt:
        inp = self.processed(audio, frames, prompt, image)
        m, cfg = self.model, self.config
        ids = inp["input_ids"]
        feature_lengths = inp["feature_attention_mask"].sum(-1)
        with self.capture:
            audio_features = m.get_audio_features(inp["input_features"], inp["feature_attention_mask"]).last_hidden_state
        scores = self.capture.scores()
        video = m.get_video_features(inp["pixel_values_videos"], inp["video_grid_thw"])
        embeds = m.get_input_embeddings()(ids)
        audio_mask = (ids == cfg.audio_token_id).unsqueeze(-1).expand_as(embeds)
        video_mask = (ids == cfg.video_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(audio_mask, audio_features)
        embeds = embeds.masked_scatter(video_mask, torch.cat(video.pooler_output))
        image_grid = None
        if image is not None:
            images = m.get_image_features(inp["pixel_values"], inp["image_grid_thw"])
            image_mask = (ids == cfg.image_token_id).unsqueeze(-1).expand_as(embeds)
            embeds = embeds.masked_scatter(image_mask, torch.cat(images.pooler_output))
            image_grid = inp["image_grid_thw"]
        spg = inp["video_second_per_grid"]
        position_ids, deltas = m.get_rope_index(ids, image_grid, inp["video_grid_thw"], inp["attention_mask"], True,
                                                feature_lengths, spg)
        assert torch.equal(position_ids, position_ids.round()), "fractional positions: not an integral layout"
        return Prompt(ids, inp["attention_mask"], embeds, position_ids.long(), int(deltas.reshape(-1)[0]), scores,
                      [torch.cat(level) for level in video.deepstack_features], inp["video_grid_thw"],
                      float(spg.reshape(-1)[0]), int(feature_lengths[0]))

    def compress(self, client: Client, prompt: Prompt) -> Compressed:
        result = client.compress(prompt.inputs_embeds[0], prompt.input_ids[0], prompt.audio_scores,
                                 prompt.video_grid_thw, audio_token_id=self.config.audio_token_id,
                                 video_token_id=self.config.video_token_id, video_budget="exact", **PARAMS)
        applied = apply(result, prompt.inputs_embeds, prompt.attention_mask, prompt.position_ids)
        keep = torch.as_tensor(result.keep_mask, dtype=torch.bool).reshape(-1)
        return Compressed(result, applied.inputs_embeds, applied.attention_mask, applied.position_ids,
                          prompt.input_ids[:, keep])

    def greedy(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, steps: int,
               decode_position: Callable[[int], int], visual_pos_masks: torch.Tensor,
               deepstack: List[torch.Tensor]) -> Tuple[List[int], List[float]]:
        """Greedy tokens from a prefill of ``inputs_embeds [1, K, D]`` at ``position_ids
        [3, 1, K]`` with the DeepStack rows ``deepstack`` (per level, one row per True of
        ``visual_pos_masks [1, K]``), then token t at ``decode_position(t)``; and each step's
        top-1 minus top-2 logit."""
        return greedy(self.model, self.config.text_config, inputs_embeds, position_ids, steps, decode_position,
                      visual_pos_masks=visual_pos_masks, deepstack_visual_embeds=deepstack)
