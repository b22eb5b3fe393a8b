"""The server's model presets (``model=``): each model's paper defaults and placeholder token
ids, which the server fills in for what a request does not set itself. ``GET /v1/info`` lists
the same under ``models``."""

from __future__ import annotations

from typing import Any, Dict

DEFAULT_AUDIO_TOKEN_ID = 151646
DEFAULT_VIDEO_TOKEN_ID = 151656
DEFAULT_MODEL = "qwen2.5-omni"

MODELS: Dict[str, Dict[str, Any]] = {
    "qwen2.5-omni": dict(rho_audio=0.3, rho_video=0.6, contextual_ratio=0.05, g=3, audio_token_id=DEFAULT_AUDIO_TOKEN_ID,
                         video_token_id=DEFAULT_VIDEO_TOKEN_ID),
    "qwen3-omni": dict(rho_audio=0.4, rho_video=0.7, contextual_ratio=0.05, g=3, audio_token_id=151675,
                       video_token_id=151656),
}


def preset(model: Any) -> Dict[str, Any]:
    """The named model's defaults (Qwen2.5-Omni's for None); ValueError for another name, as the
    server answers 400."""
    name = DEFAULT_MODEL if model is None else str(model)
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    return MODELS[name]
