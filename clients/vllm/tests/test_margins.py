"""margins.py on its own: synthetic spans through the real sidecar, no vLLM engine.

Frames of P = 16 tokens in D = 8 and rho_video = 0.55, so every frame of a run without audio
keeps int(16 * 0.45) = 7 tokens (video_budget=exact, nothing to redistribute): a tie placed
between the 7th and 8th token of a frame is a decision on the keep boundary.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import pytest

import margins
from conftest import METRICS
from margins import Answer, Side, Tolerance, explain

P, D = 16, 8
COUNT = 7  # int(P * (1 - 0.55))
PARAMS = dict(rho_audio=0.3, rho_video=0.55, contextual_ratio=0.05, g=3, video_budget="exact")
VIDEO_RUNS = [2 * P, 2 * P]  # two runs of two frames: frames 0 and 2 even, 1 and 3 odd
TOL = Tolerance(embed_atol=1e-5, embed_rtol=0.0, score_atol=1e-6, score_rtol=0.0)
NO_AUDIO = np.zeros((0, D))


def ask(client, side: Side, audio_runs: List[int]) -> Answer:
    grid = np.array([sum(VIDEO_RUNS) // P, 8, 8])  # (8/2) * (8/2) = 16 tokens a frame
    return Answer.split(client.compress(audio_embeds=side.audio.astype(np.float32),
                                        video_embeds=side.video.astype(np.float32),
                                        audio_scores=side.scores.astype(np.float32), video_grid_thw=grid,
                                        audio_chunk_lens=audio_runs, video_chunk_lens=VIDEO_RUNS, **PARAMS))


def compare(client, ref: Side, other: Side, audio_runs: Optional[List[int]] = None,
            other_answer: Optional[Answer] = None) -> margins.Report:
    """The sidecar on both sides and on the bridge (ref rows, other scores), explained."""
    runs = audio_runs or []
    bridge = ask(client, Side(ref.audio, ref.video, other.scores), runs)
    other_answer = other_answer or ask(client, other, runs)
    return explain(ref, other, ask(client, ref, runs), other_answer, bridge, VIDEO_RUNS, P, PARAMS["rho_audio"], TOL)


def random_video(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((sum(VIDEO_RUNS), D))


def with_cosines(previous: np.ndarray, cosines: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A frame whose token p has cosine ``cosines[p]`` with token p of ``previous``."""
    w = previous / np.linalg.norm(previous, axis=1, keepdims=True)
    r = rng.standard_normal(previous.shape)
    r -= (r * w).sum(axis=1, keepdims=True) * w
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    return cosines[:, None] * w + np.sqrt(1 - cosines ** 2)[:, None] * r


def mirrored_frame(rng: np.random.Generator) -> np.ndarray:
    """P/2 pairs (x, x with coordinates 0 and 1 swapped): the frame maps onto itself, so each
    pair ties exactly in density and DPC score, and the keep boundary (7) splits a pair."""
    half = rng.standard_normal((P // 2, D))
    mirror = half.copy()
    mirror[:, [0, 1]] = half[:, [1, 0]]
    return np.concatenate([half, mirror])


def test_identical_inputs_have_no_differences(client):
    rng = np.random.default_rng(1)
    side = Side(rng.standard_normal((20, D)), random_video(rng), rng.permutation(20) / 20.0)
    report = compare(client, side, side, [10, 10])
    report.check()
    assert report.decisions == [] and report.count_changes == [] and report.unexplained == []
    assert report.summary().startswith("0 differing decisions")


def test_audio_score_near_tie_is_explained(client):
    """Two scores 2e-7 apart on the top-dom boundary (14 of 20), in different runs: the sides
    keep different tokens, which moves video counts between runs; all explained by one swap."""
    rng = np.random.default_rng(2)
    scores = np.linspace(0.0, 1.0, 20)  # token 0 lowest: the anchor on both sides
    scores[[3, 13]] = (scores[5] + scores[6]) / 2  # ranks 14 and 15 of the 20: on the boundary
    ref_scores, other_scores = scores.copy(), scores.copy()
    ref_scores[[3, 13]] += [1e-7, -1e-7]
    other_scores[[3, 13]] += [-1e-7, 1e-7]
    audio, video = rng.standard_normal((20, D)), random_video(rng)
    report = compare(client, Side(audio, video, ref_scores), Side(audio, video, other_scores), [10, 10])
    report.check()
    assert [(d.kind, d.out, d.into) for d in report.decisions] == [("audio score", 3, 13)]
    assert report.decisions[0].margin == pytest.approx(2e-7, rel=1e-6)
    assert report.count_changes, "the swap moved a kept audio token between runs: counts must follow"


def test_odd_frame_cosine_near_tie_is_explained(client):
    """Frame 1's tokens 4 and 9 have cosines 2e-6 apart across the boundary; the two sides
    order them differently."""
    rng = np.random.default_rng(3)
    video = random_video(rng)
    cos = rng.permutation(np.linspace(-0.8, 0.8, P))
    low = np.sort(cos)
    tie = (low[COUNT - 1] + low[COUNT]) / 2
    cos[cos == low[COUNT - 1]], cos[cos == low[COUNT]] = tie, tie
    i, j = np.flatnonzero(cos == tie)
    sides = []
    for sign in (1, -1):
        c = cos.copy()
        c[[i, j]] += [sign * 1e-6, -sign * 1e-6]
        v = video.copy()
        v[P:2 * P] = with_cosines(video[:P], c, np.random.default_rng(4))
        sides.append(Side(NO_AUDIO, v, np.zeros(0)))
    report = compare(client, *sides)
    report.check()
    assert [(d.kind, d.where) for d in report.decisions] == [("odd-frame cosine", "run 0 frame 1")]
    d = report.decisions[0]
    assert {d.out, d.into} == {P + i, P + j} and d.margin == pytest.approx(2e-6, rel=1e-3)


def crossing(frame: np.ndarray, i: int, j: int, d: np.ndarray, hi: float) -> float:
    """t at which token i of ``frame`` moved by t * d ties j's DPC score (bisection on [0, hi],
    where i is below j at 0 and above at hi)."""
    def gap(t: float) -> float:
        moved = frame.copy()
        moved[i] += t * d
        score = margins.dpc(moved)[1]
        return score[i] - score[j]

    lo = 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gap(mid) > 0 else (mid, hi)
    return (lo + hi) / 2


def test_even_frame_dpc_score_near_tie_is_explained(client):
    """Frame 0: the first dropped token moved along a direction until its DPC score ties the
    last kept one's (no density order near a tie there); the two sides sit 2e-6 either side
    of the crossing and keep different tokens."""
    rng = np.random.default_rng(0)
    video = random_video(rng)
    order = np.argsort(-margins.dpc(video[:P])[1])
    j, i = order[COUNT - 1], order[COUNT]  # the last kept, the first dropped
    d = rng.standard_normal(D)
    t = crossing(video[:P], i, j, d, hi=0.5)
    sides = []
    for eps in (-2e-6, 2e-6):
        v = video.copy()
        v[i] += (t + eps) * d
        sides.append(Side(NO_AUDIO, v, np.zeros(0)))
    assert np.abs(sides[0].video - sides[1].video).max() <= TOL.embed_atol  # within the tolerance
    report = compare(client, *sides)
    report.check()
    assert [(d.kind, d.where, d.out, d.into) for d in report.decisions] == [
        ("even-frame DPC score", "run 0 frame 0", j, i)]
    assert report.decisions[0].margin < 1e-5


def test_even_frame_density_near_tie_is_explained(client):
    """A mirror-symmetric frame, then independent noise of 1e-7 on each side: the pair split by
    the boundary ties exactly in density, so the sides' density orders (and deltas) differ;
    every swap is explained by a density order within its bound."""
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        video = random_video(rng)
        video[2 * P:3 * P] = mirrored_frame(rng)  # run 1, frame 0
        ref, other = (Side(NO_AUDIO, video + 1e-7 * rng.standard_normal(video.shape), np.zeros(0)) for _ in range(2))
        report = compare(client, ref, other)
        if report.decisions:
            break
    else:
        pytest.fail("no seed made the two sides' even-frame decisions differ")
    report.check()
    assert {(d.kind, d.where) for d in report.decisions} == {("even-frame density order", "run 1 frame 0")}
    assert all(d.margin < 1e-6 for d in report.decisions), report.decisions


def test_a_wrong_mask_fails(client):
    """The other side's answer with its most certain kept video token of frame 0 swapped for
    the most certain dropped one (same inputs on both sides): not a near tie."""
    rng = np.random.default_rng(5)
    side = Side(NO_AUDIO, random_video(rng), np.zeros(0))
    answer = ask(client, side, [])
    _, score, _, _ = margins.dpc(side.video[:P])
    kept = np.flatnonzero(answer.video_keep[:P])
    dropped = np.flatnonzero(~answer.video_keep[:P])
    wrong = Answer(answer.audio_keep, answer.video_keep.copy(), answer.frame_kept, answer.chunk_ratio)
    wrong.video_keep[kept[np.argmax(score[kept])]] = False
    wrong.video_keep[dropped[np.argmin(score[dropped])]] = True
    report = compare(client, side, side, other_answer=wrong)
    with pytest.raises(AssertionError, match="NOT a near tie"):
        report.check()
    # A wrong audio mask is not even a decision of the other side's scores.
    with_audio = Side(rng.standard_normal((20, D)), side.video, np.linspace(0, 1, 20))
    answer = ask(client, with_audio, [20])
    dropped = int(np.flatnonzero(~answer.audio_keep)[0])
    answer.audio_keep[[dropped, 19]] = [True, False]  # 19 has the highest score
    with pytest.raises(AssertionError, match="top-dom"):
        compare(client, with_audio, with_audio, [20], other_answer=answer).check()


def test_a_perturbation_far_above_the_bound_fails(client):
    """Noise of 0.2 on the other side's video (the tolerance is 1e-5): the masks differ by
    decisions whose margins exceed their bounds."""
    rng = np.random.default_rng(6)
    ref = Side(NO_AUDIO, random_video(rng), np.zeros(0))
    other = Side(NO_AUDIO, ref.video + 0.2 * rng.standard_normal(ref.video.shape), np.zeros(0))
    report = compare(client, ref, other)
    assert report.decisions
    with pytest.raises(AssertionError, match="NOT a near tie"):
        report.check()



def runs_of(mask: np.ndarray) -> List[int]:
    """Lengths of the maximal runs of consecutive positions where ``mask`` is set."""
    pos = np.flatnonzero(mask)
    return np.diff(np.concatenate(([0], np.flatnonzero(np.diff(pos) > 1) + 1, [pos.size]))).tolist()


def test_real_clip_under_kernel_sized_noise_is_explained(client, reference, full_prompt):
    """The test clip's transformers rows and scores, and a copy with noise of the size two
    frameworks' kernels differ by (1e-7..1e-6, within checks.ENCODER_TOLERANCE): its odd
    frames hold cosine ties below float32 resolution, so masks differ, and every difference
    must be explained by a near tie under the tolerance the vLLM checks use."""
    from checks import ENCODER_TOLERANCE

    cfg, p = reference.config, full_prompt
    ids = p.input_ids[0].numpy()
    is_audio, is_video = ids == cfg.audio_token_id, ids == cfg.video_token_id
    rows = p.inputs_embeds[0].numpy()
    ref = Side.of(rows[is_audio], rows[is_video], p.audio_scores)
    grid = p.video_grid_thw[0].tolist()
    per_frame = (grid[1] // 2) * (grid[2] // 2)
    audio_runs, video_runs = runs_of(is_audio), runs_of(is_video)
    params = dict(PARAMS, rho_video=0.6)

    def ask_real(side: Side) -> Answer:
        return Answer.split(client.compress(
            audio_embeds=side.audio.astype(np.float32), video_embeds=side.video.astype(np.float32),
            audio_scores=side.scores.astype(np.float32), video_grid_thw=np.array(grid), audio_chunk_lens=audio_runs,
            video_chunk_lens=video_runs, **params))

    rng = np.random.default_rng(7)
    noisy = Side(ref.audio + 5e-7 * rng.standard_normal(ref.audio.shape),
                 ref.video + 5e-7 * rng.standard_normal(ref.video.shape),
                 ref.scores + 2e-7 * rng.standard_normal(ref.scores.shape))
    assert np.abs(noisy.video - ref.video).max() < ENCODER_TOLERANCE.embed_atol
    report = explain(ref, noisy, ask_real(ref), ask_real(noisy), ask_real(Side(ref.audio, ref.video, noisy.scores)),
                     video_runs, per_frame, params["rho_audio"], ENCODER_TOLERANCE)
    report.check()
    assert report.decisions, "the noise flipped no decision: the test clip's near ties are gone?"
    METRICS["margins, test clip + noise 5e-7"] = report.summary()
