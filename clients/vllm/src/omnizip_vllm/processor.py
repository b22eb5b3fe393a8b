"""Prompt processing: size each audio-in-video span to what OmniZip keeps, as one joint item.

vLLM fixes a prompt's placeholder tokens before any encoder runs. With the sidecar's
``video_budget=exact`` the kept count is known from sizes alone, so a span becomes

    <|audio_bos|> <|VIDEO|> x kept_video  <|AUDIO|> x kept_audio <|audio_eos|>

(``omnizip_client.budget``: kept_audio = K_a, kept_video = K* + tokens of runs shorter than
a frame). Which tokens survive is only known after the encoders; the model writes the kept
rows, in span order, over these placeholders and gives each its original position, so the
video-first order of the placeholder ids is only a count (see README.md).

vLLM (stock) makes the span two items, an audio and a video one covering the same tokens,
encoded in separate ``embed_multimodal`` calls and cached separately. OmniZip needs both
at once, so :meth:`OmniZipProcessor.apply` fuses each pair into ONE "video" item carrying
both the audio features and the frames, with a hash of both hashes and the OmniZip
parameters: the encoder cache and the processor cache then hold exactly one compressed
span per (video, audio, parameters).
"""

from __future__ import annotations

import dataclasses
import hashlib
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import torch
from omnizip_client.budget import Budget, budget
from vllm.model_executor.models.qwen2_5_omni_thinker import Qwen2_5OmniThinkerMultiModalProcessor
from vllm.multimodal.inputs import MultiModalKwargsItem, MultiModalKwargsItems, PlaceholderRange
from vllm.multimodal.processing.processor import PromptReplacement, PromptUpdateDetails

from .config import OmniZipConfig
from .positions import SpanLayout, audio_token_count, decode_delta, item_float, layout_for, prompt_positions
from .sidecar import check_ready

__all__ = ["OmniZipProcessor", "joint_hash", "span_budget"]

#: Keys a fused item takes from its audio item.
AUDIO_KEYS = ("input_audio_features", "audio_feature_lengths", "feature_attention_mask")


def span_budget(layout: SpanLayout, cfg: OmniZipConfig) -> Budget:
    """What the sidecar keeps of ``layout`` under ``video_budget=exact``."""
    audio_runs, video_runs = layout.runs()
    return budget(audio_runs, video_runs, layout.tokens_per_frame, rho_audio=cfg.rho_audio,
                  rho_video=cfg.rho_video, contextual_ratio=cfg.contextual_ratio, g=cfg.g)


def joint_hash(cfg: OmniZipConfig, video_hash: str, audio_hash: str) -> str:
    blob = f"omnizip-vllm|{cfg.cache_key()}|{video_hash}|{audio_hash}"
    return "omnizip-" + hashlib.sha256(blob.encode()).hexdigest()


class OmniZipProcessor(Qwen2_5OmniThinkerMultiModalProcessor):
    """Qwen2.5-Omni's processor with OmniZip-sized, fused audio-in-video spans."""

    @property
    def omnizip(self) -> OmniZipConfig:
        cfg = getattr(self, "_omnizip", None)
        if cfg is None:
            cfg = self._omnizip = OmniZipConfig.from_hf_config(self.info.ctx.model_config.hf_config)
        return cfg

    # -- sizing -----------------------------------------------------------------------------

    def _get_prompt_updates(self, mm_items: Any, hf_processor_mm_kwargs: Mapping[str, Any],
                            out_mm_kwargs: MultiModalKwargsItems) -> Sequence[Any]:
        updates = list(super()._get_prompt_updates(mm_items, hf_processor_mm_kwargs, out_mm_kwargs))
        if not hf_processor_mm_kwargs.get("use_audio_in_video", False):
            return updates

        thinker = self.info.get_hf_config()
        vocab = self.info.get_tokenizer().get_vocab()
        processor = self.info.get_hf_processor(**hf_processor_mm_kwargs)
        audio_id, video_id = vocab[processor.audio_token], vocab[processor.video_token]
        data = out_mm_kwargs.get_data()
        feature_lengths = data.get("audio_feature_lengths")
        if feature_lengths is None:
            feature_lengths = data["feature_attention_mask"].sum(-1)
        feature_lengths = feature_lengths.reshape(-1).tolist()

        def replacement(item_idx: int) -> PromptUpdateDetails:
            grid = data["video_grid_thw"][item_idx].tolist()
            spg = self._second_per_grid(data, hf_processor_mm_kwargs, item_idx)
            layout = self._layout(thinker, grid, spg, int(feature_lengths[item_idx]))
            kept = span_budget(layout, self.omnizip)
            seq = ([thinker.audio_start_token_id] + [video_id] * kept.kept_video + [audio_id] * kept.kept_audio
                   + [thinker.audio_end_token_id])
            return PromptUpdateDetails.select_token_ids(seq, [video_id, audio_id])

        return [PromptReplacement(modality="video", target=[video_id], replacement=replacement)
                if u.modality == "video" else u for u in updates]

    # What differs between the models (Qwen3-Omni's processor overrides these).

    def _second_per_grid(self, data: Mapping[str, Any], hf_kwargs: Mapping[str, Any], item_idx: int) -> float:
        return item_float(data.get("second_per_grid_ts"), item_idx, 1.0)

    def _layout(self, thinker: Any, grid: Sequence[int], second_per_grid: float, feature_length: int) -> Any:
        return layout_for(thinker, grid, second_per_grid, audio_token_count(feature_length))

    def _prompt_positions(self, ids: Sequence[int], features: Sequence[Any]) -> Any:
        return prompt_positions(ids, features, self.info.get_hf_config())

    # -- fusing -----------------------------------------------------------------------------

    def apply(self, inputs: Any, timing_ctx: Any) -> Any:
        uses_audio_in_video = bool(inputs.hf_processor_mm_kwargs.get("use_audio_in_video", False))
        if not uses_audio_in_video or inputs.mm_data_items.get_all_counts().get("video", 0) == 0:
            return super().apply(inputs, timing_ctx)

        cfg = self.omnizip
        # Refuse here, in the frontend, while the sidecar is down: this request fails with the
        # sidecar's URL and answer, and the engine keeps serving the others.
        check_ready(cfg.url)
        # The processor cache keys items by their own hashes; fused items get new ones, so
        # process without it and put the fused items through it below.
        out = super().apply(dataclasses.replace(inputs, cache=None), timing_ctx)
        self._fuse(out)
        if cfg.positions == "unpruned-delta":
            self._check_decode_positions(out)
        if inputs.cache is not None:
            self._through_cache(out, inputs.cache)
        return out

    def _fuse(self, out: Any) -> None:
        ids = out["prompt_token_ids"]
        kwargs, hashes, places = out["mm_kwargs"], out["mm_hashes"], out["mm_placeholders"]
        videos, audios = list(kwargs.get("video", [])), list(kwargs.get("audio", []))
        if len(audios) != len(videos):
            raise ValueError(f"use_audio_in_video needs one audio per video, got {len(audios)} audio "
                             f"and {len(videos)} video items")
        thinker = self.info.get_hf_config()
        vocab = self.info.get_tokenizer().get_vocab()
        processor = self.info.get_hf_processor()
        audio_id, video_id = vocab[processor.audio_token], vocab[processor.video_token]

        fused, fused_hashes, fused_places = [], [], []
        for i, (video, audio) in enumerate(zip(videos, audios)):
            place = places["video"][i]
            before = ids[place.offset - 1] if place.offset > 0 else None
            after = ids[place.offset + place.length] if place.offset + place.length < len(ids) else None
            if before != thinker.vision_start_token_id or after != thinker.vision_end_token_id:
                raise ValueError("use_audio_in_video needs each video between the vision start and end tokens "
                                 "in the prompt (the model's chat template writes that)")
            span = torch.tensor(ids[place.offset:place.offset + place.length])
            is_embed = (span == audio_id) | (span == video_id)
            fused.append(MultiModalKwargsItem({**video, **{k: audio[k] for k in AUDIO_KEYS if k in audio}}))
            fused_hashes.append(joint_hash(self.omnizip, hashes["video"][i], hashes["audio"][i]))
            fused_places.append(PlaceholderRange(offset=place.offset, length=place.length, is_embed=is_embed))

        kwargs["video"] = fused
        hashes["video"] = fused_hashes
        places["video"] = fused_places
        for mapping in (kwargs, hashes, places):
            mapping.pop("audio", None)

    def _check_decode_positions(self, out: Any) -> None:
        """positions='unpruned-delta' decodes at K + t + (max + 1 - L): refuse the request when
        that is negative (vLLM's rotary cache would be indexed from its end)."""
        ids, places, kwargs = out["prompt_token_ids"], out["mm_placeholders"], out["mm_kwargs"]
        features = [SimpleNamespace(mm_position=place, modality=modality, data=item)
                    for modality in places for place, item in zip(places[modality], kwargs[modality])]
        _, full_len, full_max = self._prompt_positions(ids, features)
        first = len(ids) + decode_delta("unpruned-delta", len(ids), full_len, full_max)
        if first < 0:
            raise ValueError(f"omnizip.positions='unpruned-delta' would decode this prompt at negative positions "
                             f"(first generated token at {len(ids)} + {full_max + 1} - {full_len} = {first}: the "
                             f"compression removed more tokens than the prompt spans positions); use 'reference'")

    @staticmethod
    def _through_cache(out: Any, cache: Any) -> None:
        """The sender-cache protocol of BaseMultiModalProcessor._merge_mm_kwargs, on final items."""
        kwargs, hashes = out["mm_kwargs"], out["mm_hashes"]
        for item_hashes in hashes.values():
            for h in item_hashes:
                cache.touch_sender_cache_item(h)
        try:
            for modality in list(kwargs.keys()):
                kwargs[modality] = [cache.get_and_update_item((item, []), h)[0]
                                    for item, h in zip(kwargs[modality], hashes[modality])]
        finally:
            cache.release_sender_touches()
