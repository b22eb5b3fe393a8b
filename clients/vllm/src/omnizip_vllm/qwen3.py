"""The architecture ``OmniZipQwen3OmniMoeThinker``: Qwen3-Omni's thinker with OmniZip.

The same plan as Qwen2.5-Omni's (:mod:`.model`, shared in :mod:`.thinker`), where the models
differ:

- the span (:func:`.positions.span_layout_qwen3`): every temporal grid is a video run followed
  by ``second_per_grid x 13`` audio tokens, laid out at the fps the frames were sampled at
  (the video's metadata, or ``mm_processor_kwargs.fps``); a span whose positions would be
  fractional is refused before anything runs;
- scores: the last audio layer's attention within each encoder window, from its fused
  ``qkv_proj`` (:class:`.scores.QKVCapture`), float32 unless ``score_dtype`` is ``model``;
- rows: video rows keep their DeepStack channels; the sidecar sees only the main ones, and
  audio rows carry zeros there, as the reference adds DeepStack only at video positions;
- a prompt that also has images is compressed too (the reference skips compression then;
  the spans do not depend on the images).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from vllm.model_executor.models.qwen3_omni_moe_thinker import (
    Qwen3OmniMoeThinkerDummyInputsBuilder,
    Qwen3OmniMoeThinkerForConditionalGeneration,
    Qwen3OmniMoeThinkerMultiModalProcessor,
    Qwen3OmniMoeThinkerProcessingInfo,
)
from vllm.model_executor.models.utils import _merge_multimodal_embeddings
from vllm.multimodal import MULTIMODAL_REGISTRY
from vllm.multimodal.parse import VideoProcessorItems

from .positions import POSITION_CHANNELS, item_float, layout_for_qwen3, prompt_positions_qwen3
from .processor import OmniZipProcessor
from .scores import QKVCapture
from .thinker import OmniZipThinker, check_vllm_version

__all__ = ["OmniZipQwen3OmniMoeThinker", "OmniZipQwen3Processor", "sampled_fps"]


def sampled_fps(metadata: Optional[Mapping[str, Any]]) -> Optional[float]:
    """The rate the frames were sampled at, from vLLM's video metadata: the source ``fps``
    scaled by the spacing of ``frames_indices`` (a loader that keeps every 15th frame of a
    30-fps file gives 2). None when the metadata does not say."""
    if not metadata or not metadata.get("fps"):
        return None
    fps = float(metadata["fps"])
    idx = list(metadata.get("frames_indices") or [])
    if len(idx) >= 2 and idx[-1] > idx[0]:
        fps *= (len(idx) - 1) / (idx[-1] - idx[0])
    return round(fps, 6)


class OmniZipQwen3Processor(OmniZipProcessor, Qwen3OmniMoeThinkerMultiModalProcessor):
    """Qwen3-Omni's processor with OmniZip-sized, fused audio-in-video spans."""

    def apply(self, inputs: Any, timing_ctx: Any) -> Any:
        return super().apply(self._with_fps(inputs), timing_ctx)

    def _with_fps(self, inputs: Any) -> Any:
        """vLLM does not pass a video's fps to Qwen3-Omni's processor, which then lays every
        video out at 1 fps (2 s per temporal grid): a 2-fps clip's audio would pair with the
        wrong frames. Pass the frames' own rate unless the request gives ``fps``."""
        kwargs = inputs.hf_processor_mm_kwargs
        if not kwargs.get("use_audio_in_video", False) or "fps" in kwargs:
            return inputs
        if inputs.mm_data_items.get_all_counts().get("video", 0) == 0:
            return inputs
        videos = inputs.mm_data_items.get_items("video", object)
        if not isinstance(videos, VideoProcessorItems):
            return inputs  # precomputed embeddings: the request's own second_per_grid_ts applies
        metadata = videos.metadata or []
        rates = [sampled_fps(m) for m in metadata] if isinstance(metadata, list) else [sampled_fps(metadata)]
        if not rates or any(r is None for r in rates):
            raise ValueError("Qwen3-Omni with use_audio_in_video: the video's frame rate is unknown (no fps in its "
                             "metadata); pass it as mm_processor_kwargs={'fps': ...} so that its audio pairs with "
                             "the right frames")
        if len(set(rates)) != 1:
            raise ValueError(f"Qwen3-Omni with use_audio_in_video: the videos of one request were sampled at "
                             f"different rates {rates}; send them in separate requests or pass "
                             f"mm_processor_kwargs={{'fps': ...}}")
        return dataclasses.replace(inputs, hf_processor_mm_kwargs={**kwargs, "fps": rates[0]})

    def _second_per_grid(self, data: Mapping[str, Any], hf_kwargs: Mapping[str, Any], item_idx: int) -> float:
        # As vLLM's Qwen3-Omni processor: the processed value, else the request's, else 2 s.
        processed = data.get("second_per_grid_ts")
        if isinstance(processed, torch.Tensor):
            return float(processed[item_idx])
        given = hf_kwargs.get("second_per_grid_ts")
        return float(given[item_idx]) if given else 2.0

    def _layout(self, thinker: Any, grid: Sequence[int], second_per_grid: float, feature_length: int) -> Any:
        return layout_for_qwen3(thinker, grid, second_per_grid, feature_length)

    def _prompt_positions(self, ids: Sequence[int], features: Sequence[Any]) -> Any:
        return prompt_positions_qwen3(ids, features, self.info.get_hf_config())


@MULTIMODAL_REGISTRY.register_processor(OmniZipQwen3Processor, info=Qwen3OmniMoeThinkerProcessingInfo,
                                        dummy_inputs=Qwen3OmniMoeThinkerDummyInputsBuilder)
class OmniZipQwen3OmniMoeThinker(OmniZipThinker, Qwen3OmniMoeThinkerForConditionalGeneration):
    prompt_positions = staticmethod(prompt_positions_qwen3)

    def __init__(self, *, vllm_config: Any, prefix: str = "") -> None:
        version = check_vllm_version()
        super().__init__(vllm_config=vllm_config, prefix=prefix)
        self.hidden_size = int(self.config.text_config.hidden_size)
        attention = self.audio_tower.layers[-1].self_attn
        self._qkv = QKVCapture(attention)
        if self._qkv.num_heads != int(attention.num_heads):
            raise NotImplementedError(f"OmniZip: the audio tower's heads are split across tensor-parallel ranks "
                                      f"({self._qkv.num_heads} of {attention.num_heads} here); the windowed scores "
                                      f"would need a cross-rank sum, which this plugin does not do yet")
        levels = self.deepstack_num_level if self.use_deepstack else 0
        self._init_omnizip(vllm_config, version, audio_id=self.config.audio_token_id,
                           video_id=self.config.video_token_id, row_width=self.hidden_size * (1 + levels))

    # -- encoders + sidecar -----------------------------------------------------------------

    def _embed_joint(self, kwargs: Dict[str, Any]) -> Tuple[torch.Tensor, ...]:
        inputs = self._parse_and_validate_multimodal_inputs(**kwargs)
        audio_input, video_input = inputs["audio"], inputs["video"]
        with self._lock, self._qkv:
            audio_embeds = self._process_audio_input(audio_input)
        scores = self._qkv.scores(dtype=None if self.omnizip.score_dtype == "model" else torch.float32)
        scores = scores.split([a.shape[0] for a in audio_embeds])
        feature_lengths = audio_input["audio_feature_lengths"].reshape(-1).tolist()

        video_embeds = self._process_video_input(video_input)
        grids = video_input["video_grid_thw"].reshape(-1, 3).tolist()
        second_per_grid = kwargs.get("second_per_grid_ts")
        d = self.hidden_size
        out = []
        for i, grid in enumerate(grids):
            layout = layout_for_qwen3(self.config, grid, item_float(second_per_grid, i, 2.0), int(feature_lengths[i]))
            video = video_embeds[i]
            extra = video[:, d:] if video.shape[1] > d else None
            out.append(self._compress(audio_embeds[i], video[:, :d], scores[i], layout, extra))
        return tuple(out)

    # -- merging into the prompt ------------------------------------------------------------

    def embed_input_ids(self, input_ids: torch.Tensor, multimodal_embeddings: Any = None, *,
                        is_multimodal: Optional[torch.Tensor] = None) -> torch.Tensor:
        if multimodal_embeddings is None or is_multimodal is None or len(multimodal_embeddings) == 0:
            return super().embed_input_ids(input_ids, multimodal_embeddings, is_multimodal=is_multimodal)
        wide = [tuple(e.shape) for e in multimodal_embeddings if e.shape[-1] == self._row_width + POSITION_CHANNELS]
        if wide:
            raise RuntimeError(f"OmniZip: embeddings {wide} still carry their position channels: vLLM did not call "
                               "recompute_mrope_positions (multimodal pruning is off in this model runner)")
        # No two items overlap any more (the fused item replaced the audio/video pair), so each
        # item's rows go to its own placeholders in order. A fused span's rows are in span order
        # while its placeholder ids only count them, so the DeepStack rows follow the rows, not
        # the ids: every row wider than the model (vision, or a fused span, whose audio rows are
        # zero there) is a DeepStack row.
        embeds = self._embed_text_input_ids(input_ids, self.language_model.embed_input_ids, is_multimodal=is_multimodal)
        d = self.hidden_size
        main: List[torch.Tensor] = []
        deep: List[torch.Tensor] = []
        is_deep = torch.zeros_like(is_multimodal)
        slots = torch.nonzero(is_multimodal, as_tuple=True)[0]
        at = 0
        for e in multimodal_embeddings:
            n = e.shape[0]
            main.append(e[:, :d])
            if e.shape[-1] > d:
                deep.append(e[:, d:])
                is_deep[slots[at:at + n]] = True
            at += n
        if deep and self.use_deepstack:
            levels = self.deepstack_num_level
            stack = _merge_multimodal_embeddings(inputs_embeds=embeds.new_zeros(embeds.size(0), levels * d),
                                                 multimodal_embeddings=deep, is_multimodal=is_deep)
            self._set_deepstack_input_embeds(stack.view(embeds.size(0), levels, d).permute(1, 0, 2).contiguous())
        return _merge_multimodal_embeddings(inputs_embeds=embeds, multimodal_embeddings=main, is_multimodal=is_multimodal)
