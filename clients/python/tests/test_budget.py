"""The exact-count budget: the pure Python port against ``/v1/budget``, and against what
``/v1/compress?video_budget=exact`` then keeps on every golden case."""

from __future__ import annotations

import random
from typing import Any, Dict, List

import numpy as np
import pytest

from helpers import GOLDEN_DIR, golden_cases, load_golden

from omnizip_client import AsyncClient, Budget, Client, ClientError
from omnizip_client.budget import budget
from omnizip_client.codec import decode

EXACT_DIR = GOLDEN_DIR.parent / (GOLDEN_DIR.name + "-exact")


def random_layout(rng: random.Random) -> Dict[str, Any]:
    p = rng.randint(1, 130)
    video = [rng.randint(1, 4 * p) for _ in range(rng.randint(0, 10))]
    audio = [rng.randint(1, 60) for _ in range(rng.randint(0, 10))]
    edges = [0.0, 0.3, 0.35, 0.6, 0.75, 0.9, 1.0]

    def ratio() -> float:
        return rng.choice(edges) if rng.random() < 0.4 else round(rng.random(), rng.randint(1, 6))

    return dict(audio_chunk_lens=audio, video_chunk_lens=video, tokens_per_frame=p, rho_audio=ratio(),
                rho_video=ratio(), contextual_ratio=rng.choice([0.0, 0.05, 0.1, 0.33]), g=rng.randint(0, 4))


def test_port_equals_the_endpoint_on_random_layouts(client: Client) -> None:
    rng = random.Random(20261203)
    for _ in range(300):
        layout = random_layout(rng)
        local = budget(**layout)
        remote = client.budget(**layout)
        assert local == remote, layout
        assert local.kept == local.kept_audio + local.kept_video
        assert local.kept_video == local.video_target + local.short_video


def test_port_takes_a_grid_like_the_endpoint(client: Client) -> None:
    sizes = dict(audio_chunk_lens=[50, 50, 3], video_chunk_lens=[240, 240], video_grid_thw=[4, 20, 24])
    assert budget(**sizes) == client.budget(**sizes)
    assert budget(**sizes).video_target == 4 * int(120 * (1.0 - 0.6))


@pytest.mark.parametrize("sizes", [
    dict(audio_chunk_lens=[0], video_chunk_lens=[]),
    dict(audio_chunk_lens=[4], video_chunk_lens=[8]),                       # no frame size
    dict(audio_chunk_lens=[4], video_chunk_lens=[8], tokens_per_frame=4, rho_video=1.5),
    dict(audio_chunk_lens=[4], video_chunk_lens=[8], video_grid_thw=[1, 4, 4]),   # 4 tokens, not 8
    dict(audio_chunk_lens=[4], video_chunk_lens=[(1 << 22) + 1], tokens_per_frame=1),  # past the size bound
])
def test_port_refuses_what_the_endpoint_refuses(client: Client, sizes: Dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        budget(**sizes)
    with pytest.raises(ClientError) as info:
        client.budget(**sizes)
    assert info.value.status == 400


def _runs(positions: np.ndarray) -> List[int]:
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    return [int(n) for n in np.diff(np.concatenate(([0], breaks, [positions.size])))]


@pytest.mark.parametrize("name", golden_cases())
def test_exact_compression_keeps_the_budget(client: Client, name: str) -> None:
    golden = load_golden(name)
    params = golden.params()
    result = client.compress_bytes(golden.body, video_budget="exact")
    grid = golden.request["video_grid_thw"].reshape(-1)
    expected = budget(_runs(golden.positions("audio")), _runs(golden.positions("video")),
                      (int(grid[1]) // 2) * (int(grid[2]) // 2), rho_audio=params["rho_audio"],
                      rho_video=params["rho_video"], contextual_ratio=params["contextual_ratio"], g=params["g"])
    assert (result.counts.kept_audio, result.counts.kept_video) == (expected.kept_audio, expected.kept_video)
    assert result.metadata["video_budget"] == "exact"
    # The keep mask and frame counts are the golden-exact expectation's.
    exact, metadata, _ = decode((EXACT_DIR / f"{name}.exact.safetensors").read_bytes())
    assert np.array_equal(np.asarray(result.keep_mask), exact["keep_mask"].reshape(-1))
    assert np.array_equal(np.asarray(result.video_frame_kept), exact["video_frame_kept"])
    assert int(metadata["kept_video"]) == expected.kept_video


def test_score_plans_the_exact_counts(client: Client) -> None:
    golden = load_golden(golden_cases()[0])
    r = golden.request
    plan = client.score(r["audio_scores"], input_ids=r["input_ids"], video_grid_thw=r["video_grid_thw"],
                        video_budget="exact", **{k: v for k, v in golden.params().items()})
    result = client.compress_bytes(golden.body, video_budget="exact")
    assert plan.parameters["video_budget"] == "exact"
    assert plan.counts.kept_video == result.counts.kept_video
    assert np.array_equal(plan.video_frame_kept, np.asarray(result.video_frame_kept))


@pytest.mark.anyio
async def test_async_budget(server: Any) -> None:
    sizes = dict(audio_chunk_lens=[50, 50, 50], video_chunk_lens=[240, 240, 240, 100], tokens_per_frame=120)
    async with AsyncClient(server.url) as c:
        assert await c.budget(**sizes) == budget(**sizes)
    assert isinstance(budget(**sizes), Budget)


def test_model_presets_fill_what_the_request_leaves_unset(client: Client) -> None:
    """model="qwen3-omni": the server and the local port use Qwen3's defaults (0.4, 0.7, 0.05, 3)
    where no parameter is given; an explicit one still wins; /v1/info lists the same presets."""
    from omnizip_client import MODELS

    sizes = dict(audio_chunk_lens=[50, 50, 50, 50], video_chunk_lens=[240] * 4, tokens_per_frame=120)
    qwen3 = client.budget(**sizes, model="qwen3-omni")
    # round(0.6 * 200) + round(0.05 * 200) audio; 8 frames x int(120 * 0.3) video.
    assert (qwen3.kept_audio, qwen3.kept_video) == (130, 288)
    assert budget(**sizes, model="qwen3-omni") == qwen3
    assert budget(**sizes, rho_audio=0.4, rho_video=0.7) == qwen3
    assert client.budget(**sizes, model="qwen3-omni", rho_audio=0.3) == budget(**sizes, rho_video=0.7)
    assert client.budget(**sizes) == budget(**sizes) != qwen3
    served = client.info()["models"]
    assert served.keys() == MODELS.keys()
    assert all({k: served[name][k] for k in preset} == preset for name, preset in MODELS.items())
    with pytest.raises(ClientError, match="qwen3-omni"):
        client.budget(**sizes, model="qwen2-audio")
    with pytest.raises(ValueError, match="qwen3-omni"):
        budget(**sizes, model="qwen2-audio")


def test_model_preset_gives_the_token_ids_the_runs_are_found_by(client: Client) -> None:
    """score(input_ids=...) finds the runs client-side: with model="qwen3-omni" by Qwen3's audio id
    151675, without one by Qwen2.5's 151646."""
    audio, video = 151675, 151656
    ids = np.array([1] + [video] * 8 + [audio] * 6 + [video] * 8 + [audio] * 6 + [2])
    scores = np.linspace(1, 0, 12, dtype=np.float32)
    plan = client.score(scores, input_ids=ids, tokens_per_frame=4, model="qwen3-omni")
    assert (plan.counts.total_audio, plan.counts.total_video) == (12, 16)
    assert len(plan.audio_chunk_retention) == 2 and len(plan.video_chunk_kept) == 2
    with pytest.raises(ClientError):  # Qwen2.5's audio id finds no audio run for the 12 scores
        client.score(scores, input_ids=ids, tokens_per_frame=4)
