"""Every golden case through the client matches its expectation (the golden README's rule)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers import assert_merged_close, assert_parity, golden_cases, load_golden

from omnizip_client import Client, apply

CASES = golden_cases()


@pytest.mark.parametrize("name", CASES)
def test_golden_bytes(client: Client, name: str) -> None:
    """The request file as it is (parameters from its __metadata__)."""
    golden = load_golden(name)
    result = client.compress_bytes(golden.body)
    assert_parity(result, golden)
    assert result.request_id and result.attempts == 1
    assert {"queue", "decode", "compress", "encode"} <= set(result.timings)


@pytest.mark.parametrize("name", CASES)
def test_golden_arrays(client: Client, name: str) -> None:
    """The same case from numpy arrays (BF16 as BF16Bits), parameters as keywords."""
    golden = load_golden(name)
    r = golden.request
    result = client.compress(golden.embeds, r["input_ids"], r["audio_scores"], r["video_grid_thw"], **golden.params())
    assert_parity(result, golden)


@pytest.mark.parametrize("name", [n for n in CASES if "bf16" in n] + CASES[:2])
def test_golden_return_embeds(client: Client, name: str) -> None:
    """?return=embeds gives the compressed sequence, equal to apply() on the client side."""
    golden = load_golden(name)
    result = client.compress_bytes(golden.body, return_embeds=True)
    assert_parity(result, golden)
    applied = apply(result, golden.embeds)
    got = result.compressed_embeds
    if golden.bf16:
        assert np.array_equal(got, applied.inputs_embeds.to_float32())
    else:
        assert np.array_equal(got, applied.inputs_embeds)
    assert got.shape == (result.counts.kept, golden.request["inputs_embeds"].shape[1])


@pytest.mark.parametrize("name", CASES[:3] + [n for n in CASES if "bf16" in n or "no-" in n])
def test_golden_split_layout(client: Client, name: str) -> None:
    """The split layout (modalities sent apart with their run lengths) gives the same plan."""
    from omnizip_client._protocol import runs_of

    golden = load_golden(name)
    audio, video = golden.positions("audio"), golden.positions("video")
    embeds = golden.embeds
    params = golden.params()
    for key in ("audio_token_id", "video_token_id"):
        params.pop(key)
    r = golden.request
    result = client.compress(
        audio_embeds=embeds[audio], video_embeds=embeds[video], audio_scores=r["audio_scores"],
        video_grid_thw=r["video_grid_thw"], audio_chunk_lens=runs_of(audio), video_chunk_lens=runs_of(video),
        return_embeds=True, **params)
    exp = golden.expected
    assert result.layout == "split"
    assert np.array_equal(result.audio_keep, exp["keep_mask"][audio])
    assert np.array_equal(result.video_keep, exp["keep_mask"][video])
    assert np.array_equal(result.audio_kept_index, np.flatnonzero(exp["keep_mask"][audio]))
    assert np.array_equal(result.video_kept_index, np.flatnonzero(exp["keep_mask"][video]))
    assert np.array_equal(audio[result.merged_index], exp["merged_index"])
    assert_merged_close(result.merged_embeds, exp["merged_embeds"], golden.bf16)
    assert np.array_equal(result.video_chunk_ratio, exp["video_chunk_ratio"])
    assert np.array_equal(result.audio_chunk_retention, exp["audio_chunk_retention"])
    assert result.compressed_audio_embeds.shape[0] == result.counts.kept_audio
    assert result.compressed_video_embeds.shape[0] == result.counts.kept_video


@pytest.mark.parametrize("name", CASES[:4] + [n for n in CASES if "no-" in n])
def test_score_matches_compress(client: Client, name: str) -> None:
    """/v1/score's plan (no embeddings) agrees with the full compression."""
    golden = load_golden(name)
    r = golden.request
    exp = golden.expected
    audio, video = golden.positions("audio"), golden.positions("video")
    plan = client.score(r["audio_scores"], input_ids=r["input_ids"], video_grid_thw=r["video_grid_thw"], **golden.params())
    assert np.array_equal(plan.audio_keep_mask, exp["keep_mask"][audio])
    assert np.array_equal(plan.audio_keep, np.flatnonzero(exp["keep_mask"][audio]))
    assert np.array_equal(plan.video_chunk_ratio, exp["video_chunk_ratio"])
    assert np.array_equal(plan.audio_chunk_retention, exp["audio_chunk_retention"])
    assert int(np.sum(plan.video_chunk_kept)) == int(exp["keep_mask"][video].sum()) == plan.counts.kept_video
    assert plan.counts.total_audio == audio.size and plan.counts.total_video == video.size
    # The same counts as compress, text tokens included; only merged is unknown to a plan.
    keep = exp["keep_mask"]
    assert plan.counts.total == keep.size and plan.counts.kept == int(keep.sum())
    assert plan.counts.merged is None
    assert replace(client.compress_bytes(golden.body).counts, merged=None) == plan.counts
    assert plan.parameters["rho_audio"] == golden.params()["rho_audio"]
    assert plan.request_id


def test_score_with_run_lengths(client: Client) -> None:
    """The JSON form with explicit run lengths and tokens_per_frame."""
    from omnizip_client._protocol import runs_of

    golden = load_golden(CASES[0])
    r = golden.request
    t, h, w = (int(x) for x in r["video_grid_thw"].reshape(-1))
    params = golden.params()
    plan = client.score(r["audio_scores"], audio_chunk_lens=runs_of(golden.positions("audio")),
                        video_chunk_lens=runs_of(golden.positions("video")), tokens_per_frame=(h // 2) * (w // 2),
                        rho_audio=params["rho_audio"], rho_video=params["rho_video"],
                        contextual_ratio=params["contextual_ratio"], g=params["g"])
    assert np.array_equal(plan.video_chunk_ratio, golden.expected["video_chunk_ratio"])
    assert np.array_equal(plan.audio_keep_mask, golden.expected["keep_mask"][golden.positions("audio")])
