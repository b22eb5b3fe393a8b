"""What the Qwen2.5-Omni and Qwen3-Omni architectures share: the sidecar call and the rows it
yields, the position channels and their recompute, decoding positions, the per-span log.

A model class mixes :class:`OmniZipThinker` in before vLLM's thinker and sets, in its
``__init__``, the token ids and row width it uses (:meth:`_init_omnizip`); it supplies
``_embed_joint`` (encoders, scores, the span layouts of its model) and ``prompt_positions``.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from vllm.logger import init_logger

from .config import SUPPORTED_VLLM, OmniZipConfig
from .positions import POSITION_CHANNELS, decode_delta, decode_positions, encode_positions, is_joint
from .processor import span_budget
from .sidecar import SidecarError, compress_split, make_client, wait_ready

logger = init_logger("vllm.omnizip_vllm.model")  # under "vllm": vLLM's log handler and level

__all__ = ["OmniZipThinker", "check_vllm_version", "enable_position_recompute"]


def check_vllm_version() -> str:
    """The running vLLM version; raises unless it is in ``SUPPORTED_VLLM`` (override with
    OMNIZIP_VLLM_ALLOW_UNSUPPORTED=1)."""
    import vllm

    version = vllm.__version__
    try:
        major_minor = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        major_minor = (0, 0)
    low, high = SUPPORTED_VLLM
    if not low <= major_minor < high and os.environ.get("OMNIZIP_VLLM_ALLOW_UNSUPPORTED") != "1":
        raise RuntimeError(f"omnizip-vllm supports vLLM >= {low[0]}.{low[1]}, < {high[0]}.{high[1]}; this is {version} "
                           "(set OMNIZIP_VLLM_ALLOW_UNSUPPORTED=1 to try anyway)")
    return version


def enable_position_recompute(vllm_config: Any) -> None:
    """vLLM's runners call ``recompute_mrope_positions`` only when multimodal pruning is on
    (``--video-pruning-rate`` > 0). OmniZip always needs it: turn it on (the rate itself is
    read only by EVS models, not by these). The CPU runner needs runner_patch as well."""
    mm = vllm_config.model_config.multimodal_config
    if mm is not None and not mm.is_multimodal_pruning_enabled():
        mm.video_pruning_rate = 0.5


class OmniZipThinker:
    """Mixin: the sidecar call, the compressed span's rows and their positions."""

    # vLLM's runners call recompute_mrope_positions only for models that declare pruning and
    # only when multimodal pruning is enabled (see enable_position_recompute and runner_patch).
    supports_multimodal_pruning = True
    # OmniZip ignores --video-pruning-method/--video-pruning-rate: accept any method.
    supported_video_pruning_methods = ()

    omnizip: OmniZipConfig
    #: The last sidecar calls (sizes, timings, request id, packed keep masks), newest last.
    omnizip_calls: Deque[Dict[str, Any]]
    #: The model's request-time positions: (tokens, features, thinker config) -> (positions
    #: [3, K], uncompressed length, uncompressed maximum). Set by each model class.
    prompt_positions: Callable[..., Tuple[np.ndarray, int, int]]

    def _init_omnizip(self, vllm_config: Any, version: str, *, audio_id: int, video_id: int, row_width: int) -> None:
        self.omnizip = OmniZipConfig.from_hf_config(vllm_config.model_config.hf_config)
        if self.omnizip.positions == "unpruned-delta" and getattr(vllm_config, "use_v2_model_runner", False):
            raise RuntimeError("omnizip.positions='unpruned-delta' needs vLLM's V1 model runner "
                               "(VLLM_USE_V2_MODEL_RUNNER=0); 'reference' works with both")
        enable_position_recompute(vllm_config)
        self._audio_id, self._video_id = int(audio_id), int(video_id)
        #: Width of a prompt row this model's language model takes (with any DeepStack channels).
        self._row_width = int(row_width)
        self._lock = threading.Lock()
        self.omnizip_calls = deque(maxlen=64)
        self._stats_path = os.environ.get("OMNIZIP_VLLM_STATS")
        wait_ready(self.omnizip.url, self.omnizip.startup_timeout)
        self._client = make_client(self.omnizip.url, self.omnizip.timeout, self.omnizip.retries)
        logger.info("OmniZip (vLLM %s, %s): sidecar %s is ready; %s", version, type(self).__name__,
                    self.omnizip.url, self.omnizip.describe())

    # -- the sidecar call -------------------------------------------------------------------

    def _compress(self, audio: torch.Tensor, video: torch.Tensor, scores: torch.Tensor, layout: Any,
                  video_extra: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The kept rows of one span, in span order, each followed by its position channels.

        ``video`` is what the sidecar compares (the language model's embedding width);
        ``video_extra`` more channels per video row that travel with it (Qwen3's DeepStack
        levels), zeros on audio rows, where the reference adds no DeepStack term."""
        cfg = self.omnizip
        expected = span_budget(layout, cfg)
        if audio.shape[0] != layout.audio_len or video.shape[0] != layout.video_len or scores.shape[0] != layout.audio_len:
            raise RuntimeError(f"OmniZip: encoder outputs ({audio.shape[0]} audio, {video.shape[0]} video, "
                               f"{scores.shape[0]} scores) do not match the span layout "
                               f"({layout.audio_len} audio, {layout.video_len} video)")
        audio_runs, video_runs = layout.runs()
        # Tensors go to the client where they are: on the memfd path a GPU tensor's copy lands
        # straight in the shared mapping (the ordinary body copies it to the host first).
        result, elapsed_ms = compress_split(self._client, audio.detach(), video.detach(), scores.detach(),
                                            layout.grid_thw, audio_runs, video_runs, cfg.params())

        audio_keep = torch.as_tensor(result.audio_keep, dtype=torch.bool).reshape(-1)
        video_keep = torch.as_tensor(result.video_keep, dtype=torch.bool).reshape(-1)
        kept_audio, kept_video = int(audio_keep.sum()), int(video_keep.sum())
        if (kept_audio, kept_video) != (expected.kept_audio, expected.kept_video):
            raise SidecarError(cfg.url, "answer does not fit the prompt",
                               f"kept {kept_audio} audio + {kept_video} video tokens, the prompt was sized for "
                               f"{expected.kept_audio} + {expected.kept_video} (video_budget=exact); request "
                               f"{result.request_id}")

        # The reference writes the merged anchors into the audio rows, then slices.
        audio = audio.clone()
        merged_index = torch.as_tensor(result.merged_index, dtype=torch.long).reshape(-1)
        if merged_index.numel():
            audio[merged_index.to(audio.device)] = torch.as_tensor(result.merged_embeds).to(audio.device, audio.dtype)
        video = video.to(audio.dtype)
        if video_extra is not None:
            audio = torch.cat([audio, audio.new_zeros(audio.shape[0], video_extra.shape[1])], dim=1)
            video = torch.cat([video, video_extra.to(audio.dtype)], dim=1)

        keep = np.empty(layout.length, dtype=bool)
        keep[layout.is_audio] = audio_keep.numpy()[layout.index[layout.is_audio]]
        keep[~layout.is_audio] = video_keep.numpy()[layout.index[~layout.is_audio]]
        rows = np.where(layout.is_audio, layout.index, layout.audio_len + layout.index)[keep]
        kept_rows = torch.cat([audio, video])[torch.from_numpy(rows).to(audio.device)]
        rel = torch.from_numpy(layout.rel_from_audio_start[:, keep]).to(audio.device)
        out = torch.cat([kept_rows, encode_positions(rel, kept_rows.dtype)], dim=1)
        self._record(result, elapsed_ms, layout, audio_keep, video_keep, int(merged_index.numel()))
        return out

    def _record(self, result: Any, elapsed_ms: float, layout: Any, audio_keep: torch.Tensor,
                video_keep: torch.Tensor, merged: int) -> None:
        kept_audio, kept_video = int(audio_keep.sum()), int(video_keep.sum())
        encode_ms = result.client_timings.get("encode_ms")
        record = dict(request_id=result.request_id, sidecar_ms=round(elapsed_ms, 3),
                      server_ms=result.timings.get("compress"), attempts=result.attempts,
                      transport=result.transport, huge_pages=result.huge_pages,
                      encode_ms=None if encode_ms is None else round(encode_ms, 3),
                      total_audio=layout.audio_len, kept_audio=kept_audio,
                      total_video=layout.video_len, kept_video=kept_video,
                      span_tokens=layout.length + 2, kept_span_tokens=kept_audio + kept_video + 2, merged=merged)
        if self._stats_path:
            with open(self._stats_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        # Which tokens survived, bit-packed, for inspection (tests compare them with transformers).
        record["audio_keep"] = np.packbits(audio_keep.numpy())
        record["video_keep"] = np.packbits(video_keep.numpy())
        self.omnizip_calls.append(record)
        # The transport (body, memfd, memfd in huge pages) and the client's share: writing the request (to bytes or
        # into the memfd) is what the memfd changes on this side.
        logger.info("OmniZip: span %d -> %d tokens (audio %d -> %d, video %d -> %d); sidecar call %.1f ms "
                    "by %s (request written in %s ms, server %s ms), request %s", record["span_tokens"],
                    record["kept_span_tokens"], layout.audio_len, kept_audio, layout.video_len, kept_video,
                    elapsed_ms, result.transport + (" in huge pages" if result.huge_pages else ""), record["encode_ms"],
                    record["server_ms"], result.request_id)

    # -- the model's hooks ------------------------------------------------------------------

    def embed_multimodal(self, **kwargs: object) -> Any:
        if not is_joint(kwargs):
            return super().embed_multimodal(**kwargs)  # type: ignore[misc]
        return self._embed_joint(kwargs)

    def get_mrope_input_positions(self, input_tokens: List[int], mm_features: List[Any]) -> Tuple[torch.Tensor, int]:
        if not any(is_joint(f.data) for f in mm_features):
            return super().get_mrope_input_positions(input_tokens, mm_features)  # type: ignore[misc]
        pos, full_len, full_max = type(self).prompt_positions(input_tokens, mm_features, self.config)
        positions = torch.from_numpy(pos)
        # Read back by recompute_mrope_positions (the V1 runner keeps this very tensor).
        positions.omnizip_full_len = full_len  # type: ignore[attr-defined]
        positions.omnizip_full_max = full_max  # type: ignore[attr-defined]
        return positions, self._delta(len(input_tokens), full_len, full_max)

    def _delta(self, length: int, full_len: int, full_max: int) -> int:
        return decode_delta(self.omnizip.positions, length, full_len, full_max)

    def recompute_mrope_positions(self, input_ids: Any, multimodal_embeddings: Sequence[torch.Tensor],
                                  mrope_positions: torch.Tensor, num_computed_tokens: int) -> Tuple[list, torch.Tensor, int]:
        width = self._row_width + POSITION_CHANNELS
        out = [e[:, :self._row_width] if e.shape[-1] == width else e for e in multimodal_embeddings]
        joint = [e for e in multimodal_embeddings if e.shape[-1] == width]
        # V1 runs this every step of every request (mostly decoding, nothing to do but the delta).
        length = int(input_ids.shape[0]) if isinstance(input_ids, torch.Tensor) else len(input_ids)
        if joint:
            ids = input_ids.tolist() if isinstance(input_ids, torch.Tensor) else input_ids
            targets, bases = self._joint_targets(ids, num_computed_tokens)
            used = 0
            for e in joint:
                n = e.shape[0]
                if used + n > len(targets):
                    raise RuntimeError(f"OmniZip: {used + n} span rows for {len(targets)} span tokens")
                idx = torch.from_numpy(targets[used:used + n]).to(mrope_positions.device)
                bos = torch.from_numpy(bases[used:used + n]).to(mrope_positions.device)
                rel = decode_positions(e[:, self._row_width:]).to(mrope_positions.device)
                mrope_positions[:, idx] = mrope_positions[0, bos].unsqueeze(0) + rel
                used += n
        # Set by get_mrope_input_positions on prompts with a fused span (the V1 runner keeps that
        # tensor). Absent: nothing was compressed, or the V2 runner, which passes a view of its
        # position buffer ('unpruned-delta' refuses to load there).
        full_len = getattr(mrope_positions, "omnizip_full_len", length)
        full_max = getattr(mrope_positions, "omnizip_full_max", None)
        if full_max is None:
            full_max = int(mrope_positions.max())
        return out, mrope_positions, self._delta(length, full_len, full_max)

    def _joint_targets(self, ids: Sequence[int], start: int) -> Tuple[np.ndarray, np.ndarray]:
        """Prompt indices of fused-span tokens at or after ``start``, in order, and the
        position index of each one's audio-start token (the span base)."""
        cfg = self.config
        arr = np.asarray(ids, dtype=np.int64)
        bos = np.flatnonzero(arr == cfg.audio_start_token_id)
        bos = bos[(bos > 0) & (arr[np.maximum(bos - 1, 0)] == cfg.vision_start_token_id)]
        media = (arr == self._audio_id) | (arr == self._video_id)
        targets, bases = [], []
        for b in bos.tolist():
            end = b + 1
            while end < arr.size and media[end]:
                end += 1
            first = max(b + 1, start)
            if end > first:
                targets.append(np.arange(first, end))
                bases.append(np.full(end - first, b))
        if not targets:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(targets), np.concatenate(bases)
