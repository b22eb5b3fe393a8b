"""The exact-count budget from sizes alone: a pure Python port of ``POST /v1/budget``.

A serving engine (vLLM) fixes a prompt's placeholder count before any encoder runs. Under
``video_budget=exact`` the sidecar keeps a number of tokens known from the run lengths and
the parameters alone; this module computes it without a round trip, with the same integer
and float rules as the server (Python's ``round`` and ``int``, float64 products), so the two
always agree (``tests/test_budget.py`` checks it against the endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .models import preset

__all__ = ["Budget", "budget", "kept_audio", "video_target"]

#: The most video (audio) tokens a request may declare; the server refuses more.
MAX_VIDEO_TOKENS = 1 << 22
MAX_AUDIO_TOKENS = 1 << 40

#: Stage 2's fixed clamp bounds of a guided run's ratio.
RATIO_FLOOR = 0.35
RATIO_CEILING = 0.75


@dataclass(frozen=True)
class Budget:
    """What a request keeps under ``video_budget=exact`` (the fields of ``/v1/budget``)."""

    kept_audio: int
    kept_video: int
    #: K*: video tokens kept in whole frames.
    video_target: int
    #: Tokens of video runs shorter than one frame (kept whole).
    short_video: int
    kept: int
    total_audio: int
    total_video: int
    total: int


def kept_audio(n: int, rho_audio: float = 0.3, contextual_ratio: float = 0.05, g: int = 3) -> int:
    """Audio tokens stage 1 keeps: ``dom`` by score plus ``min(C, N - dom)`` anchors."""
    if n == 0:
        return 0
    dom = int(max(0, min(n, round((1 - rho_audio) * n))))
    c = int(max(0, round(contextual_ratio * n)))
    rest = n - dom
    return dom + (min(c, rest) if rest > 0 and c > 0 and g > 0 else 0)


def video_target(audio_runs: int, video_chunk_lens: Sequence[int], tokens_per_frame: int, rho_video: float = 0.6) -> int:
    """K*: each whole frame keeps ``int(P * (1 - aim))``; aim is rho_v clamped for a guided run."""
    p = tokens_per_frame
    guided = min(audio_runs, len(video_chunk_lens))
    guided_aim = min(RATIO_CEILING, max(RATIO_FLOOR, rho_video))
    total = 0
    for run, n in enumerate(video_chunk_lens):
        aim = guided_aim if run < guided else rho_video
        total += (n // p) * int(p * (1.0 - aim))
    return total


def _lengths(name: str, values: Sequence[int]) -> list:
    out = [int(v) for v in values]
    bad = [i for i, v in enumerate(out) if v <= 0]
    if bad:
        raise ValueError(f"{name}[{bad[0]}] must be positive, got {out[bad[0]]}")
    return out


def _ratio(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def budget(
    audio_chunk_lens: Sequence[int],
    video_chunk_lens: Sequence[int],
    tokens_per_frame: Optional[int] = None,
    *,
    video_grid_thw: Optional[Sequence[int]] = None,
    model: Optional[str] = None,
    rho_audio: Optional[float] = None,
    rho_video: Optional[float] = None,
    contextual_ratio: Optional[float] = None,
    g: Optional[int] = None,
) -> Budget:
    """The totals ``/v1/budget`` answers, computed locally.

    ``tokens_per_frame`` is P; ``video_grid_thw = [T, H, W]`` may give it instead
    (P = (H // 2) * (W // 2)). Parameters left None take ``model``'s defaults (Qwen2.5-Omni's:
    0.3, 0.6, 0.05, 3; ``"qwen3-omni"``: 0.4, 0.7, 0.05, 3), as the server does. Raises
    ``ValueError`` where the server would answer 400.
    """
    defaults = preset(model)
    rho_audio = defaults["rho_audio"] if rho_audio is None else rho_audio
    rho_video = defaults["rho_video"] if rho_video is None else rho_video
    contextual_ratio = defaults["contextual_ratio"] if contextual_ratio is None else contextual_ratio
    g = defaults["g"] if g is None else g
    audio = _lengths("audio_chunk_lens", audio_chunk_lens)
    video = _lengths("video_chunk_lens", video_chunk_lens)
    if sum(video) > MAX_VIDEO_TOKENS or sum(audio) > MAX_AUDIO_TOKENS:
        raise ValueError(f"a request may have at most {MAX_VIDEO_TOKENS} video and {MAX_AUDIO_TOKENS} audio tokens")
    rho_audio, rho_video = _ratio("rho_audio", rho_audio), _ratio("rho_video", rho_video)
    contextual_ratio = _ratio("contextual_ratio", contextual_ratio)
    if int(g) != g or g < 0:
        raise ValueError(f"g must be a non-negative integer, got {g}")
    if video_grid_thw is not None:
        t, h, w = (int(x) for x in video_grid_thw)
        p = (h // 2) * (w // 2)
        if t * p != sum(video):
            raise ValueError(f"video_grid_thw {[t, h, w]} gives {t * p} video tokens but video_chunk_lens sums to {sum(video)}")
    elif tokens_per_frame is not None:
        p = int(tokens_per_frame)
    else:
        p = 0
    if video and p <= 0:
        raise ValueError("tokens_per_frame (or video_grid_thw) must give at least one token per frame when there is video")
    na, nv = sum(audio), sum(video)
    ka = kept_audio(na, rho_audio, contextual_ratio, int(g))
    target = video_target(len(audio), video, p, rho_video) if video else 0
    short = sum(n for n in video if n < p)
    return Budget(kept_audio=ka, kept_video=target + short, video_target=target, short_video=short,
                  kept=ka + target + short, total_audio=na, total_video=nv, total=na + nv)
