"""The transformers side of the comparisons: the reference's flow on the tiny checkpoint.

Exactly what the paper's patched thinker does at prefill (float32, CPU): scatter the audio
and video features into the prompt embeddings, compute the 3-D M-RoPE ids of the FULL
prompt (``get_rope_index``), score the audio tokens from the audio tower's last-layer Q/K,
ask the sidecar (interleaved layout, ``video_budget=exact``) and slice with
``omnizip_client.apply``. Then greedy decoding with the text model and ``lm_head`` on given
prefill embeddings and positions, with explicit decoding positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Tuple

import numpy as np
import torch
from omnizip_client import Client, apply
from omnizip_vllm.scores import QKCapture, audio_scores
from safetensors.torch import load_file
from transformers import AutoConfig, DynamicCache, Qwen2_5OmniProcessor
from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniThinkerForConditionalGeneration

import media


@dataclass
class Prompt:
    """The full (uncompressed) prompt, as the reference builds it."""

    input_ids: torch.Tensor  # [1, L]
    attention_mask: torch.Tensor  # [1, L]
    inputs_embeds: torch.Tensor  # [1, L, D]
    position_ids: torch.Tensor  # [3, 1, L]
    rope_deltas: int
    audio_scores: torch.Tensor  # [Na]
    q: torch.Tensor  # last audio layer Q [frames, d_model]
    k: torch.Tensor
    video_grid_thw: torch.Tensor  # [1, 3]
    second_per_grid: float
    audio_feature_length: int

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])


@dataclass
class Compressed:
    result: object  # omnizip_client.CompressResult (interleaved)
    inputs_embeds: torch.Tensor  # [1, K, D]
    attention_mask: torch.Tensor  # [1, K]
    position_ids: torch.Tensor  # [3, 1, K]
    input_ids: torch.Tensor  # [1, K]

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])


class HFReference:
    def __init__(self, model_dir: Path) -> None:
        self.processor = Qwen2_5OmniProcessor.from_pretrained(str(model_dir))
        config = AutoConfig.from_pretrained(str(model_dir)).thinker_config
        config._attn_implementation = "eager"
        for sub in (config.audio_config, config.vision_config, config.text_config):
            sub._attn_implementation = "eager"
        self.config = config
        self.model = Qwen2_5OmniThinkerForConditionalGeneration(config).eval().float()
        state = {k[len("thinker."):]: v for k, v in load_file(str(Path(model_dir) / "model.safetensors")).items()}
        self.model.load_state_dict(state, strict=True)
        self.capture = QKCapture(self.model.audio_tower.layers[-1].self_attn)

    def processed(self, audio: np.ndarray, frames: np.ndarray, prompt: str = media.PROMPT):
        return self.processor(text=[prompt], audio=[audio], videos=[frames], return_tensors="pt",
                              use_audio_in_video=True, videos_kwargs={"fps": media.FPS})

    @torch.no_grad()
    def prompt(self, audio: np.ndarray, frames: np.ndarray) -> Prompt:
        inp = self.processed(audio, frames)
        m = self.model
        ids = inp["input_ids"]
        feature_lengths = inp["feature_attention_mask"].sum(-1)
        with self.capture:
            audio_features = m.get_audio_features(inp["input_features"], inp["feature_attention_mask"]).last_hidden_state
        q, k = self.capture.take()
        frames_after_cnn, _ = m.audio_tower._get_feat_extract_output_lengths(feature_lengths)
        scores = audio_scores(q, k, self.capture.num_heads, frames_after_cnn.tolist())[0]
        video_features = torch.cat(m.get_video_features(inp["pixel_values_videos"], inp["video_grid_thw"]).pooler_output)

        embeds = m.get_input_embeddings()(ids)
        audio_mask = (ids == self.config.audio_token_id).unsqueeze(-1).expand_as(embeds)
        video_mask = (ids == self.config.video_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(audio_mask, audio_features).masked_scatter(video_mask, video_features)
        second_per_grid = inp["video_second_per_grid"]
        position_ids, deltas = m.get_rope_index(ids, None, inp["video_grid_thw"], inp["attention_mask"], True,
                                                feature_lengths, second_per_grid)
        return Prompt(ids, inp["attention_mask"], embeds, position_ids, int(deltas.reshape(-1)[0]), scores, q, k,
                      inp["video_grid_thw"], float(second_per_grid.reshape(-1)[0]), int(feature_lengths[0]))

    def compress(self, client: Client, prompt: Prompt, **params) -> Compressed:
        result = client.compress(prompt.inputs_embeds[0], prompt.input_ids[0], prompt.audio_scores,
                                 prompt.video_grid_thw, audio_token_id=self.config.audio_token_id,
                                 video_token_id=self.config.video_token_id, video_budget="exact", **params)
        applied = apply(result, prompt.inputs_embeds, prompt.attention_mask, prompt.position_ids)
        keep = torch.as_tensor(result.keep_mask, dtype=torch.bool).reshape(-1)
        return Compressed(result, applied.inputs_embeds, applied.attention_mask, applied.position_ids,
                          prompt.input_ids[:, keep])

    @torch.no_grad()
    def logits(self, c: Compressed) -> torch.Tensor:
        """The thinker's own forward on the compressed inputs (as the reference calls its model)."""
        return self.model(input_ids=c.input_ids, inputs_embeds=c.inputs_embeds, attention_mask=c.attention_mask,
                          position_ids=c.position_ids, use_cache=False).logits

    def greedy(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, steps: int,
               decode_position: Callable[[int], int]) -> Tuple[List[int], List[float]]:
        """Greedy tokens: prefill ``inputs_embeds [1, K, D]`` at ``position_ids [3, 1, K]``,
        then generated token t at ``decode_position(t)`` on all three M-RoPE axes. Also each
        step's logit margin (top-1 minus top-2): how close that step was to a tie."""
        return greedy(self.model, self.config.text_config, inputs_embeds, position_ids, steps, decode_position)


@torch.no_grad()
def greedy(thinker: Any, text_config: Any, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, steps: int,
           decode_position: Callable[[int], int], **prefill: Any) -> Tuple[List[int], List[float]]:
    """A thinker's greedy tokens and top-1 minus top-2 logits after a prefill of
    ``inputs_embeds`` (with ``prefill``'s extra arguments to its text model)."""
    cache = DynamicCache(config=text_config)
    out = thinker.model(inputs_embeds=inputs_embeds, position_ids=position_ids, past_key_values=cache, use_cache=True,
                        **prefill)
    tokens: List[int] = []
    gaps: List[float] = []
    for t in range(steps):
        if t:
            pos = torch.full((3, 1, 1), decode_position(t - 1), dtype=torch.long)
            emb = thinker.get_input_embeddings()(torch.tensor([[tokens[-1]]]))
            out = thinker.model(inputs_embeds=emb, position_ids=pos, past_key_values=cache, use_cache=True)
        top2 = thinker.lm_head(out.last_hidden_state[0, -1]).topk(2)
        tokens.append(int(top2.indices[0]))
        gaps.append(float(top2.values[0] - top2.values[1]))
    return tokens, gaps
