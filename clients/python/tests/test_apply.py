"""apply(): the model-side slicing, on a hand-checked prompt and against the reference order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers import golden_cases, load_golden

from omnizip_client import BF16Bits, Client, CompressResult, Counts, apply, write_merged

A, V = 151646, 151656

# A hand-made prompt, L = 12, D = 4: text | 4 video (2 frames of P = 2) | 3 audio | 4 text.
IDS = [100, V, V, V, V, A, A, A, 101, 102, 103, 104]
GRID = [2, 2, 4]  # T = 2, P = (2/2) * (4/2) = 2
EMBEDS = [
    [0.5, 0.5, 0.5, 0.5],  # 0 text
    [1, 0, 0, 0],          # 1 video frame 0
    [0, 1, 0, 0],          # 2 video frame 0
    [1, 0, 0, 0],          # 3 video frame 1: same as 1 (cosine 1, redundant)
    [0, 0, 1, 0],          # 4 video frame 1: orthogonal to 2 (cosine 0, new)
    [0, 0, 0, 1],          # 5 audio, score 0.9: the one dominant token
    [1, 2, 3, 4],          # 6 audio, score 0.1: the contextual anchor (first of the rest)
    [3, 0, 1, 2],          # 7 audio, score 0.5: merged into 6, dropped
    [8, 8, 8, 8],          # 8.. text
    [9, 9, 9, 9],
    [10, 10, 10, 10],
    [11, 11, 11, 11],
]
SCORES = [0.9, 0.1, 0.5]
# rho_audio 0.67: round(0.33 * 3) = 1 dominant token; contextual_ratio 0.34: round(1.02) = 1 anchor;
# the pool is token 7 alone, so the anchor becomes (E6 + 1.0 * E7) / 2 = [2, 1, 2, 3].
# Video ratio: 0.75 - 0.4 * (2/3) = 0.4833, keep int(2 * 0.5167) = 1 token per frame: frame 0 keeps
# position 1 (a DPC-kNN tie, lower index), frame 1 keeps position 4 (least similar to frame 0).
PARAMS = dict(rho_audio=0.67, rho_video=0.6, contextual_ratio=0.34, g=3)
KEEP = [True, True, False, False, True, True, True, False, True, True, True, True]
POSITION_IDS = [  # [3, 1, 12], as get_rope_index would give before pruning
    [[0, 1, 1, 26, 26, 1, 2, 3, 27, 28, 29, 30]],
    [[0, 1, 1, 1, 1, 1, 2, 3, 27, 28, 29, 30]],
    [[0, 1, 2, 1, 2, 1, 2, 3, 27, 28, 29, 30]],
]
ATTENTION_MASK = [[1] * 12]

EXPECTED_EMBEDS = [
    [0.5, 0.5, 0.5, 0.5],
    [1, 0, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
    [2, 1, 2, 3],  # the merged anchor, written in
    [8, 8, 8, 8],
    [9, 9, 9, 9],
    [10, 10, 10, 10],
    [11, 11, 11, 11],
]
EXPECTED_POSITION_IDS = [
    [[0, 1, 26, 1, 2, 27, 28, 29, 30]],
    [[0, 1, 1, 1, 2, 27, 28, 29, 30]],
    [[0, 1, 2, 1, 2, 27, 28, 29, 30]],
]
EXPECTED_ATTENTION_MASK = [[1] * 9]


def hand_result() -> CompressResult:
    """The result the server should give for the hand-made prompt, written out."""
    return CompressResult(
        layout="interleaved",
        merged_index=np.array([6]),
        merged_embeds=np.array([[2, 1, 2, 3]], dtype=np.float32),
        video_chunk_ratio=np.array([0.75 - 0.4 * float(np.float32(2) / np.float32(3))]),
        audio_chunk_retention=np.array([float(np.float32(2) / np.float32(3))]),
        counts=Counts(total=12, kept=9, total_audio=3, kept_audio=2, total_video=4, kept_video=2, merged=1),
        request_id=None, timings={}, metadata={}, embeds_dtype="F32",
        keep_mask=np.array(KEEP), kept_index=np.flatnonzero(KEEP),
    )


@pytest.fixture(scope="module")
def served(server: Any) -> CompressResult:
    with Client(server.url) as c:
        return c.compress(np.array(EMBEDS, dtype=np.float32), IDS, SCORES, GRID, **PARAMS)


def test_hand_case_server_result(served: CompressResult) -> None:
    assert served.keep_mask.tolist() == KEEP
    assert served.kept_index.tolist() == [0, 1, 4, 5, 6, 8, 9, 10, 11]
    assert served.merged_index.tolist() == [6]
    assert served.merged_embeds.tolist() == [[2, 1, 2, 3]]
    assert served.audio_chunk_retention.tolist() == [float(np.float32(2) / np.float32(3))]
    assert served.video_chunk_ratio.tolist() == pytest.approx([0.48333332538604736], abs=1e-12)
    assert served.counts == Counts(total=12, kept=9, total_audio=3, kept_audio=2, total_video=4, kept_video=2, merged=1)


@pytest.mark.parametrize("batched", [True, False])
def test_hand_case_apply(served: CompressResult, batched: bool) -> None:
    embeds = np.array([EMBEDS] if batched else EMBEDS, dtype=np.float32)
    before = embeds.copy()
    out = apply(served, embeds, np.array(ATTENTION_MASK), np.array(POSITION_IDS))
    expected = np.array([EXPECTED_EMBEDS] if batched else EXPECTED_EMBEDS, dtype=np.float32)
    assert out.inputs_embeds.dtype == np.float32
    assert np.array_equal(out.inputs_embeds, expected)
    assert out.attention_mask.tolist() == EXPECTED_ATTENTION_MASK
    assert out.position_ids.tolist() == EXPECTED_POSITION_IDS
    assert np.array_equal(embeds, before), "apply() must not modify its inputs"


def test_hand_case_apply_without_server() -> None:
    out = apply(hand_result(), np.array([EMBEDS], dtype=np.float32), np.array(ATTENTION_MASK), np.array(POSITION_IDS))
    assert out.inputs_embeds.tolist() == [EXPECTED_EMBEDS]
    assert out.position_ids.tolist() == EXPECTED_POSITION_IDS
    assert out.attention_mask.tolist() == EXPECTED_ATTENTION_MASK


def test_hand_case_optional_inputs() -> None:
    out = apply(hand_result(), np.array(EMBEDS, dtype=np.float32))
    assert out.attention_mask is None and out.position_ids is None
    assert out.inputs_embeds.tolist() == EXPECTED_EMBEDS


def test_hand_case_f16_and_bf16(server: Any) -> None:
    """F16 and BF16 requests: merged anchors come back in that dtype, apply keeps it."""
    with Client(server.url) as c:
        half = np.array(EMBEDS, dtype=np.float16)
        r16 = c.compress(half, IDS, SCORES, GRID, **PARAMS)
        assert r16.embeds_dtype == "F16" and r16.merged_embeds.dtype == np.float16
        out = apply(r16, half)
        assert out.inputs_embeds.dtype == np.float16 and out.inputs_embeds.tolist() == EXPECTED_EMBEDS

        bf = BF16Bits.from_float32(np.array([EMBEDS], dtype=np.float32))
        rbf = c.compress(bf, IDS, SCORES, GRID, **PARAMS)
        assert rbf.embeds_dtype == "BF16" and rbf.merged_embeds.tolist() == [[2, 1, 2, 3]]
        outbf = apply(rbf, bf)
        assert isinstance(outbf.inputs_embeds, BF16Bits)
        assert outbf.inputs_embeds.to_float32().tolist() == [EXPECTED_EMBEDS]


def test_write_merged_in_place() -> None:
    embeds = np.array([EMBEDS], dtype=np.float32)
    out = write_merged(hand_result(), embeds)
    assert out is embeds or np.shares_memory(out, embeds)
    assert embeds[0, 6].tolist() == [2, 1, 2, 3] and embeds[0, 7].tolist() == [3, 0, 1, 2]


@pytest.mark.parametrize("name", golden_cases()[:3] + [n for n in golden_cases() if "bf16" in n])
def test_apply_equals_reference_order(client: Client, name: str) -> None:
    """Reference order (write anchors in place, then slice) == apply (slice, then write)."""
    golden = load_golden(name)
    result = client.compress_bytes(golden.body)
    length = golden.request["input_ids"].size
    positions = np.stack([np.arange(length)[None, :] * k for k in (1, 2, 3)])  # [3, 1, L]
    mask = np.ones((1, length), dtype=np.int64)
    mask[0, ::7] = 0
    out = apply(result, golden.embeds, mask, positions)

    reference = write_merged(result, golden.embeds)  # a fresh copy, written in place
    keep = golden.expected["keep_mask"]
    ref_embeds = reference.bits[keep] if golden.bf16 else reference[keep]
    got = out.inputs_embeds.bits if golden.bf16 else out.inputs_embeds
    assert np.array_equal(got, ref_embeds)
    assert np.array_equal(out.attention_mask, mask[:, keep])
    assert np.array_equal(out.position_ids, positions[:, :, keep])


def test_apply_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="prompt length"):
        apply(hand_result(), np.zeros((11, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="position_ids"):
        apply(hand_result(), np.zeros((12, 4), dtype=np.float32), position_ids=np.zeros((3, 1, 13)))


def test_apply_rejects_split_results() -> None:
    split = hand_result()
    split.layout, split.keep_mask = "split", None
    with pytest.raises(ValueError, match="interleaved"):
        apply(split, np.zeros((12, 4), dtype=np.float32))




def test_slice_deepstack_keeps_the_rows_of_kept_visual_tokens() -> None:
    """Hand case: 8 tokens, visual at 1, 2, 5, 6 (rows 0..3); keep 0, 2, 5, 7 -> visual rows 1, 2."""
    from omnizip_client import slice_deepstack

    keep = np.array([1, 0, 1, 0, 0, 1, 0, 1], dtype=bool)
    visual = np.array([[0, 1, 1, 0, 0, 1, 1, 0]], dtype=bool)
    levels = [np.arange(4 * 3, dtype=np.float32).reshape(4, 3) + 100 * i for i in range(2)]
    mask, rows = slice_deepstack(keep, visual, levels)
    assert mask.tolist() == [[False, True, True, False]]
    assert [r.tolist() for r in rows] == [levels[0][[1, 2]].tolist(), levels[1][[1, 2]].tolist()]
    with pytest.raises(ValueError, match="covers 7 tokens"):
        slice_deepstack(keep, visual[:, :7], levels)
    with pytest.raises(ValueError, match="3 rows for 4 visual tokens"):
        slice_deepstack(keep, visual, [levels[0][:3]])


def test_slice_deepstack_torch() -> None:
    torch = pytest.importorskip("torch")
    from omnizip_client import slice_deepstack

    keep = torch.tensor([1, 0, 1, 0, 0, 1, 0, 1], dtype=torch.bool)
    visual = torch.tensor([[0, 1, 1, 0, 0, 1, 1, 0]], dtype=torch.bool)
    level = torch.arange(12, dtype=torch.bfloat16).reshape(4, 3)
    mask, rows = slice_deepstack(keep, visual, [level])
    assert torch.equal(mask, visual[:, keep]) and torch.equal(rows[0], level[1:3])
    assert rows[0].dtype == torch.bfloat16
