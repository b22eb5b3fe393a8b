"""The plugin's parameters: ``--hf-overrides '{"omnizip": {...}}'``, else ``$OMNIZIP_URL``.

The processor (which sizes the prompt) and the model (which calls the sidecar) run in
different processes; both read the same HF config, so they always agree.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Optional

from omnizip_client import DEFAULT_URL, ServerAddress
from omnizip_client.models import MODELS

__all__ = ["ARCHITECTURE", "ARCHITECTURES", "OmniZipConfig", "POSITION_MODES", "SCORE_DTYPES", "SUPPORTED_VLLM"]

#: The architecture names to put in ``--hf-overrides '{"architectures": [...]}'``, each with the
#: model preset (``omnizip_client.MODELS``) whose paper defaults it starts from.
ARCHITECTURE = "OmniZipQwen2_5OmniThinker"
ARCHITECTURE_QWEN3 = "OmniZipQwen3OmniMoeThinker"
ARCHITECTURES = {ARCHITECTURE: "qwen2.5-omni", ARCHITECTURE_QWEN3: "qwen3-omni"}
#: What Qwen3-Omni's windowed audio scores are computed in: float32 (deterministic, keeps the
#: ranking), or the model dtype as the reference does (bf16 collapses a window's scores to a
#: few values, so ties decide much of the selection).
SCORE_DTYPES = ("float32", "model")
#: vLLM releases whose internals the plugin was written and tested against (checked at load).
SUPPORTED_VLLM = ((0, 32), (0, 33))  # >= 0.32, < 0.33
#: Decoding positions: see README.md, "Decoding positions".
POSITION_MODES = ("reference", "unpruned-delta")
_POSITION_ALIASES = {"continuous": "reference"}


@dataclass(frozen=True)
class OmniZipConfig:
    """OmniZip parameters (the paper's Qwen2.5-Omni defaults) and how to reach the sidecar:
    ``url`` is ``http://HOST:PORT`` or, for a sidecar on a shared Unix socket, ``unix:///PATH``."""

    url: str = DEFAULT_URL
    rho_audio: float = 0.3
    rho_video: float = 0.6
    contextual_ratio: float = 0.05
    g: int = 3
    positions: str = "reference"
    #: Per sidecar call (seconds); retries follow omnizip_client (429/503, refused connections).
    timeout: float = 60.0
    retries: int = 3
    #: How long model loading waits for the sidecar's /readyz before failing.
    startup_timeout: float = 60.0
    #: Qwen3-Omni only (Qwen2.5-Omni's reference already scores in float32): see SCORE_DTYPES.
    score_dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("rho_audio", "rho_video", "contextual_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"omnizip.{name} must be a number in [0, 1], got {value!r}")
        if not isinstance(self.g, int) or isinstance(self.g, bool) or self.g < 0:
            raise ValueError(f"omnizip.g must be a non-negative integer, got {self.g!r}")
        if self.positions not in POSITION_MODES:
            raise ValueError(f"omnizip.positions must be one of {POSITION_MODES}, got {self.positions!r}")
        if self.score_dtype not in SCORE_DTYPES:
            raise ValueError(f"omnizip.score_dtype must be one of {SCORE_DTYPES}, got {self.score_dtype!r}")
        if not self.url:
            raise ValueError("omnizip.url is empty")
        try:
            ServerAddress.parse(self.url)
        except ValueError as exc:
            raise ValueError(f"omnizip.url: {exc}") from None

    @classmethod
    def from_mapping(cls, values: Optional[Mapping[str, Any]], env: Optional[Mapping[str, str]] = None,
                     model: str = "qwen2.5-omni") -> "OmniZipConfig":
        """``values`` from ``hf_overrides["omnizip"]`` over ``model``'s paper defaults; ``url``
        falls back to ``$OMNIZIP_URL``."""
        env = os.environ if env is None else env
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown omnizip parameter(s) {unknown}; known: {sorted(known)}")
        preset = MODELS[model]
        for name in ("rho_audio", "rho_video", "contextual_ratio", "g"):
            values.setdefault(name, preset[name])
        if not values.get("url") and env.get("OMNIZIP_URL"):
            values["url"] = env["OMNIZIP_URL"]
        if "positions" in values:
            values["positions"] = _POSITION_ALIASES.get(values["positions"], values["positions"])
        for name in ("rho_audio", "rho_video", "contextual_ratio", "timeout", "startup_timeout"):
            if isinstance(values.get(name), str):
                values[name] = float(values[name])
        for name in ("g", "retries"):
            if isinstance(values.get(name), str):
                values[name] = int(values[name])
        return cls(**values)

    @classmethod
    def from_hf_config(cls, hf_config: Any) -> "OmniZipConfig":
        """From the top-level HF config that ``--hf-overrides`` updated; the defaults are those of
        the model its (overridden) architecture names."""
        names = [a for a in (getattr(hf_config, "architectures", None) or []) if a in ARCHITECTURES]
        return cls.from_mapping(getattr(hf_config, "omnizip", None), model=ARCHITECTURES[names[0]] if names else "qwen2.5-omni")

    def params(self) -> dict:
        """The compression parameters sent to the sidecar on every call."""
        return dict(rho_audio=self.rho_audio, rho_video=self.rho_video, contextual_ratio=self.contextual_ratio,
                    g=self.g, video_budget="exact")

    def cache_key(self) -> str:
        """Part of a joint item's hash: what changes the encoder output must change the hash."""
        blob = json.dumps({"format": "omnizip-vllm/1", **self.params(), "score_dtype": self.score_dtype}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())
