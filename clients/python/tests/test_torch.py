"""torch tensors in, torch tensors out (BF16 included). Skipped when torch is not importable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (optional; the tests never install it)")

from helpers import assert_merged_close, golden_cases, load_golden  # noqa: E402

from omnizip_client import AsyncClient, Client, apply, omnizip  # noqa: E402
from omnizip_client.codec import bf16_bits_to_float32  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _torch_embeds(g: Any) -> Any:
    e = g.request["inputs_embeds"]
    if g.bf16:
        return torch.from_numpy(e.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(e.copy())


def _request(g: Any) -> Any:
    r = g.request
    return (_torch_embeds(g), torch.from_numpy(r["input_ids"].copy()), torch.from_numpy(r["audio_scores"].copy()),
            torch.from_numpy(r["video_grid_thw"].copy()))


@pytest.mark.parametrize("name", [n for n in golden_cases() if "bf16" in n] + golden_cases()[:2])
def test_torch_compress_matches_golden(client: Client, name: str) -> None:
    g = load_golden(name)
    result = client.compress(*_request(g), return_embeds=True, **g.params())
    assert result.is_torch
    assert result.keep_mask.dtype == torch.bool and result.merged_index.dtype == torch.int64
    assert result.video_chunk_ratio.dtype == torch.float64
    want_dtype = torch.bfloat16 if g.bf16 else torch.float32
    assert result.merged_embeds.dtype == want_dtype and result.compressed_embeds.dtype == want_dtype
    exp = g.expected
    assert torch.equal(result.keep_mask, torch.from_numpy(exp["keep_mask"]))
    assert torch.equal(result.merged_index, torch.from_numpy(exp["merged_index"]))
    assert np.array_equal(result.video_chunk_ratio.numpy(), exp["video_chunk_ratio"])
    assert_merged_close(result.merged_embeds.float().numpy(), exp["merged_embeds"], g.bf16)


@pytest.mark.parametrize("name", ["public-bf16-b", golden_cases()[0]])
def test_torch_dropin(client: Client, name: str) -> None:
    g = load_golden(name)
    embeds, ids, scores, grid = _request(g)
    embeds = embeds[None]  # [1, L, D] like the model
    before = embeds.clone()
    p = g.params()
    out, mask = omnizip(embeds, scores, ids[None], p["audio_token_id"], p["video_token_id"], grid,
                        merging_ratio_audio=p["rho_audio"], merging_ratio_v=p["rho_video"],
                        contextual_ratio=p["contextual_ratio"], g=p["g"], client=client)
    assert isinstance(out, torch.Tensor) and out.dtype == embeds.dtype and out.shape == embeds.shape
    assert mask.dtype == torch.bool and torch.equal(mask, torch.from_numpy(g.expected["keep_mask"]))
    merged = torch.from_numpy(g.expected["merged_index"])
    assert_merged_close(out[0, merged].float().numpy(), g.expected["merged_embeds"], g.bf16)
    others = torch.ones(embeds.shape[1], dtype=torch.bool)
    others[merged] = False
    assert torch.equal(out[0, others], before[0, others])
    assert torch.equal(embeds, out)  # written in place, like the reference
    sliced = out[:, mask, :]
    assert sliced.shape[1] == int(g.expected["keep_mask"].sum())


def test_torch_apply_bf16(client: Client) -> None:
    g = load_golden("public-bf16-b")
    embeds, ids, scores, grid = _request(g)
    result = client.compress(embeds, ids, scores, grid, **g.params())
    length = embeds.shape[0]
    position_ids = torch.arange(length).view(1, 1, -1).expand(3, 1, -1)
    attention_mask = torch.ones(1, length, dtype=torch.long)
    out = apply(result, embeds[None], attention_mask, position_ids)
    keep = torch.from_numpy(g.expected["keep_mask"])
    assert out.inputs_embeds.dtype == torch.bfloat16 and out.inputs_embeds.shape == (1, int(keep.sum()), embeds.shape[1])
    assert torch.equal(out.position_ids, position_ids[:, :, keep])
    assert torch.equal(out.attention_mask, attention_mask[:, keep])
    reference = embeds.clone()
    reference[result.merged_index] = result.merged_embeds
    assert torch.equal(out.inputs_embeds[0], reference[keep])
    # numpy BF16 bits and torch BF16 carry the same bytes
    bits = g.request["inputs_embeds"]
    assert np.array_equal(bf16_bits_to_float32(bits), embeds.float().numpy())


@pytest.mark.anyio
async def test_torch_async(server: Any) -> None:
    g = load_golden("public-bf16-b")
    async with AsyncClient(server.url) as c:
        result = await c.compress(*_request(g), **g.params())
    assert result.merged_embeds.dtype == torch.bfloat16
    assert torch.equal(result.keep_mask, torch.from_numpy(g.expected["keep_mask"]))


def test_torch_score(client: Client) -> None:
    g = load_golden(golden_cases()[0])
    _, ids, scores, grid = _request(g)
    plan = client.score(scores, input_ids=ids, video_grid_thw=grid, as_torch=True, **g.params())
    assert isinstance(plan.audio_keep_mask, torch.Tensor)
    assert torch.equal(plan.audio_keep_mask, torch.from_numpy(g.expected["keep_mask"][g.positions("audio")]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_torch_requests_put_the_embeddings_last(dtype: Any) -> None:
    """As numpy ones do: the server starts compressing once everything else is in."""
    from omnizip_client._protocol import prepare_compress
    from omnizip_client.codec import decode, decode_header

    audio, video = torch.randn(4, 8).to(dtype), torch.randn(4, 8).to(dtype)
    prepared = prepare_compress(
        audio_embeds=audio, video_embeds=video, audio_scores=torch.ones(4), video_grid_thw=[1, 4, 4],
        params={}, return_embeds=False, request_id=None)
    entries, _, _ = decode_header(prepared.content)
    order = sorted(entries, key=lambda name: entries[name]["data_offsets"][0])
    assert order[-2:] == ["audio_embeds", "video_embeds"], order
    arrays, _, dtypes = decode(prepared.content)
    assert dtypes["audio_embeds"] == ("BF16" if dtype == torch.bfloat16 else "F32")
    # The numpy reader widens BF16 to float32, exactly.
    assert torch.equal(torch.from_numpy(np.asarray(arrays["video_embeds"]).copy()), video.float())
