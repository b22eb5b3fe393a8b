"""omnizip(...) with the reference signature returns the golden mask and embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers import assert_merged_close, golden_cases, load_golden

import omnizip_client
from omnizip_client import BF16Bits, Client, omnizip

CASES = [golden_cases()[0], "public-ties", "public-no-video", "public-bf16-b"]


def _call(g: Any, embeds: Any, client: Client) -> Any:
    p = g.params()
    return omnizip(embeds, g.request["audio_scores"], g.request["input_ids"], p["audio_token_id"], p["video_token_id"],
                   g.request["video_grid_thw"], audio_tokens_per_sec=25, merging_ratio_audio=p["rho_audio"],
                   merging_ratio_v=p["rho_video"], contextual_ratio=p["contextual_ratio"], g=p["g"], client=client)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_dropin_matches_golden(client: Client, name: str, batched: bool) -> None:
    g = load_golden(name)
    embeds = g.embeds
    original = embeds.to_float32() if isinstance(embeds, BF16Bits) else embeds.copy()
    if batched:
        embeds = embeds.reshape(1, *embeds.shape)
    out, mask = _call(g, embeds, client)
    exp = g.expected

    assert mask.dtype == np.bool_ and mask.shape == exp["keep_mask"].shape
    assert np.array_equal(mask, exp["keep_mask"])
    assert out.shape == embeds.shape and type(out) is type(embeds)
    full = (out.to_float32() if isinstance(out, BF16Bits) else out).reshape(original.shape)
    merged = exp["merged_index"]
    assert_merged_close(full[merged], exp["merged_embeds"], g.bf16)
    untouched = np.setdiff1d(np.arange(original.shape[0]), merged)
    assert np.array_equal(full[untouched], original[untouched])
    # In place, like the reference: the caller's tensor now holds the merged anchors.
    written = (embeds.to_float32() if isinstance(embeds, BF16Bits) else embeds).reshape(original.shape)
    assert np.array_equal(written, full)


def test_dropin_then_slice_like_the_model(client: Client) -> None:
    g = load_golden(golden_cases()[1])
    embeds = g.embeds[None]
    length = embeds.shape[1]
    attention_mask = np.ones((1, length), dtype=np.int64)
    position_ids = np.broadcast_to(np.arange(length), (3, 1, length)).copy()
    out, mask = _call(g, embeds, client)
    kept = int(g.expected["keep_mask"].sum())
    assert out[:, mask, :].shape == (1, kept, embeds.shape[2])
    assert attention_mask[:, mask].shape == (1, kept)
    assert np.array_equal(position_ids[:, :, mask][0, 0], np.flatnonzero(g.expected["keep_mask"]))


def test_dropin_uses_omnizip_url(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIZIP_URL", server.url)
    omnizip_client.set_default_client(None)
    try:
        g = load_golden(golden_cases()[0])
        p = g.params()
        _, mask = omnizip(g.embeds, g.request["audio_scores"], g.request["input_ids"], p["audio_token_id"],
                          p["video_token_id"], g.request["video_grid_thw"], 25, p["rho_audio"], p["rho_video"],
                          p["contextual_ratio"], p["g"])
        assert np.array_equal(mask, g.expected["keep_mask"])
        assert omnizip_client.default_client().base_url == server.url
    finally:
        omnizip_client.default_client().close()
        omnizip_client.set_default_client(None)


def test_dropin_rejects_real_batches(client: Client) -> None:
    g = load_golden(golden_cases()[0])
    two = np.stack([g.embeds, g.embeds])
    with pytest.raises(ValueError, match="batch"):
        _call(g, two, client)
