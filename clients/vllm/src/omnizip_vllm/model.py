"""The architecture ``OmniZipQwen2_5OmniThinker``: Qwen2.5-Omni's thinker with OmniZip.

For a fused audio-in-video item (see :mod:`.processor`) ``embed_multimodal``:

1. runs the audio tower with Q/K hooks on its last layer and computes the reference's audio
   scores (:mod:`.scores`);
2. runs the vision tower;
3. sends both, split layout, run lengths of the uncompressed span and ``video_budget=exact``,
   to the sidecar;
4. returns the kept rows in span order (merged audio anchors written back), each followed by
   its original M-RoPE position relative to the span (:mod:`.positions`, lossless in any
   dtype).

``recompute_mrope_positions`` (called by vLLM's runner once the rows are gathered, also
under chunked prefill) strips those channels and writes the positions; the text after a
span keeps its uncompressed positions (computed in ``get_mrope_input_positions``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from vllm.model_executor.models.interfaces import SupportsMultiModal
from vllm.model_executor.models.qwen2_5_omni_thinker import (
    Qwen2_5OmniThinkerDummyInputsBuilder,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2_5OmniThinkerProcessingInfo,
)
from vllm.multimodal import MULTIMODAL_REGISTRY

from .positions import audio_token_count, item_float, layout_for, prompt_positions
from .processor import OmniZipProcessor
from .scores import QKCapture, audio_scores
from .thinker import OmniZipThinker, check_vllm_version

__all__ = ["OmniZipQwen2_5OmniThinker", "check_vllm_version"]


@MULTIMODAL_REGISTRY.register_processor(OmniZipProcessor, info=Qwen2_5OmniThinkerProcessingInfo,
                                        dummy_inputs=Qwen2_5OmniThinkerDummyInputsBuilder)
class OmniZipQwen2_5OmniThinker(OmniZipThinker, Qwen2_5OmniThinkerForConditionalGeneration):
    prompt_positions = staticmethod(prompt_positions)

    def __init__(self, *, vllm_config: Any, prefix: str = "") -> None:
        version = check_vllm_version()
        super().__init__(vllm_config=vllm_config, prefix=prefix)
        self.hidden_size = int(self.config.text_config.hidden_size)
        self._qk = QKCapture(self.audio_tower.layers[-1].self_attn)
        self._init_omnizip(vllm_config, version, audio_id=self.config.audio_token_index,
                           video_id=self.config.video_token_index, row_width=self.hidden_size)
        if self.omnizip.score_dtype != "float32":
            raise ValueError("omnizip.score_dtype applies to Qwen3-Omni only: Qwen2.5-Omni's reference scores "
                             "in float32 already")

    # -- encoders + sidecar -----------------------------------------------------------------

    def _embed_joint(self, kwargs: Dict[str, Any]) -> Tuple[torch.Tensor, ...]:
        inputs = self._parse_and_validate_multimodal_inputs(**kwargs)
        audio_input, video_input = inputs["audio"], inputs["video"]
        with self._lock, self._qk:
            audio_embeds = self._process_audio_input(audio_input)
        q, k = self._qk.take()
        feature_lengths = audio_input["audio_feature_lengths"].reshape(-1).to(torch.long).cpu()
        frames, _ = self.audio_tower._get_feat_extract_output_lengths(feature_lengths)
        scores = audio_scores(q, k, self._qk.num_heads, frames.tolist())

        video_embeds = self._process_video_input(video_input)
        grids = video_input["video_grid_thw"].reshape(-1, 3).tolist()
        if isinstance(video_embeds, torch.Tensor):  # precomputed video_embeds arrive unsplit
            merge = self.visual.spatial_merge_size
            video_embeds = video_embeds.split([t * h * w // merge // merge for t, h, w in grids])
        second_per_grid = kwargs.get("second_per_grid_ts")

        out = []
        for i, grid in enumerate(grids):
            spg = item_float(second_per_grid, i)
            layout = layout_for(self.config, grid, spg, audio_token_count(int(feature_lengths[i])))
            out.append(self._compress(audio_embeds[i], video_embeds[i], scores[i], layout))
        return tuple(out)

    # -- merging into the prompt ------------------------------------------------------------

    def embed_input_ids(self, input_ids: torch.Tensor, multimodal_embeddings: Any = None, *,
                        is_multimodal: Optional[torch.Tensor] = None) -> torch.Tensor:
        if multimodal_embeddings is None or is_multimodal is None or len(multimodal_embeddings) == 0:
            return super().embed_input_ids(input_ids, multimodal_embeddings, is_multimodal=is_multimodal)
        wide = [tuple(e.shape) for e in multimodal_embeddings if e.shape[-1] != self.hidden_size]
        if wide:
            raise RuntimeError(f"OmniZip: embeddings {wide} still carry their position channels: vLLM did not call "
                               "recompute_mrope_positions (multimodal pruning is off in this model runner)")
        # No two items overlap any more (the fused item replaced the audio/video pair), so the
        # plain ordered scatter is right; the parent's interleaved path splits by modality.
        return SupportsMultiModal.embed_input_ids(self, input_ids, multimodal_embeddings, is_multimodal=is_multimodal)
