"""Why two OmniZip keep masks differ: every differing decision, and its margin (float64 numpy).

vLLM and transformers run the same encoders with different kernels, so their audio rows,
video rows and audio scores agree only within a tolerance (``Tolerance``). The sidecar is
exact and deterministic, so two keep masks computed from the two sides can differ only where
a decision was a near tie. :func:`explain` attributes every difference between the reference
side's mask and the other side's mask to the one decision that flipped, computes that
decision's margin from the reference side's tensors, and compares it with the bound the
tolerance allows for it. ``Report.check()`` fails on any difference that is not explained
or whose margin is above its bound.

The decomposition (algorithm.md):

- Audio: the audio mask depends only on the scores (top-``dom`` by score, lower index on
  ties, then anchors picked from the rest). If the two audio masks differ, the top-``dom``
  sets differ; each swapped pair (i kept by the reference only, j by the other only) is an
  inverted pair, its margin ``|s_i - s_j|``; the anchors that moved follow from the swap.
- The "bridge" answer: the sidecar asked with the reference's audio and video rows and the
  OTHER side's scores. Its audio mask, per-run ratios and per-frame counts are the other
  side's (they depend on the scores only); against the reference's answer it differs only by
  counts (each frame's kept set nested in the other's). So what remains between the bridge
  and the other side is embedding decisions inside frames whose count is fixed:
  - odd frames keep the ``count`` lowest cosine similarities to the same token of the
    previous frame: a swapped pair's margin is ``|c_i - c_j|``;
  - even frames keep the ``count`` highest DPC-kNN scores ``rho * delta``: a swapped pair's
    margin is ``|score_i - score_j|``, unless the nearest denser neighbour of i or j differs
    between the sides because a density order flipped (delta jumps then); the margin is then
    ``|rho_p - rho_q|`` of the flipped pair.

Bounds, from the tolerance ``|other - ref| <= atol + rtol * |ref|`` (elementwise):

- scores: a pair inverts only if ``s_i - s_j <= tol(s_i) + tol(s_j)`` (the reference ranks
  i first, the other j, each value moved by at most its tolerance);
- a row x moved by at most ``t = ||atol + rtol*|x| ||_2`` turns its unit vector by at most
  ``e(x) = 2 t / ||x||``; so a cosine moves by at most ``e(a) + e(b) + e(a) e(b)``, every
  DPC distance by at most ``ed = 2E + E^2`` (E the largest ``e`` in the frame), rho by at most
  ``rho (exp(ed) - 1)``, delta (same denser set) by ``ed``, the score by
  ``drho (delta + ed) + rho ed``. A pair's bound is the sum of its two tokens' bounds.

The cosine and DPC bounds also get ``FLOAT32_SLACK`` (the sidecar computes them in float32,
this module in float64); the scores are ranked as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["Answer", "Decision", "Report", "Side", "Tolerance", "closest_decisions", "dpc", "explain", "frame_cosines",
           "top_dom"]

#: Added to the cosine and DPC bounds: the sidecar's float32 arithmetic (D-wide dot
#: products, exp, means) against this module's float64 recomputation (~1e-7 relative a step).
FLOAT32_SLACK = 1e-5


def _np(x: Any, dtype: Any = None) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    return a.astype(dtype) if dtype is not None else a


@dataclass
class Side:
    """One framework's encoder outputs for one span (split layout)."""

    audio: np.ndarray  # [Na, D]
    video: np.ndarray  # [Nv, D]
    scores: np.ndarray  # [Na]

    @classmethod
    def of(cls, audio: Any, video: Any, scores: Any) -> "Side":
        return cls(_np(audio, np.float64), _np(video, np.float64), _np(scores, np.float64).reshape(-1))


@dataclass
class Answer:
    """A sidecar answer, split form: which audio / video tokens it kept."""

    audio_keep: np.ndarray  # bool [Na]
    video_keep: np.ndarray  # bool [Nv]
    frame_kept: np.ndarray  # int [F], whole frames in run order
    chunk_ratio: np.ndarray  # float [video runs]

    @classmethod
    def split(cls, result: Any) -> "Answer":
        audio, video = _np(result.audio_keep, bool).reshape(-1), _np(result.video_keep, bool).reshape(-1)
        return cls(audio, video, *cls._counts(result))

    @classmethod
    def interleaved(cls, result: Any, input_ids: Any, audio_token_id: int, video_token_id: int) -> "Answer":
        keep, ids = _np(result.keep_mask, bool).reshape(-1), _np(input_ids).reshape(-1)
        return cls(keep[ids == audio_token_id], keep[ids == video_token_id], *cls._counts(result))

    @staticmethod
    def _counts(result: Any) -> Tuple[np.ndarray, np.ndarray]:
        return (_np(result.video_frame_kept, np.int64).reshape(-1),
                _np(result.video_chunk_ratio, np.float64).reshape(-1))


@dataclass(frozen=True)
class Tolerance:
    """How far the other side's tensors may be from the reference's: ``atol + rtol * |ref|``."""

    embed_atol: float
    embed_rtol: float
    score_atol: float
    score_rtol: float

    def scores(self, s: np.ndarray) -> np.ndarray:
        return self.score_atol + self.score_rtol * np.abs(s)

    def turn(self, x: np.ndarray) -> np.ndarray:
        """Per row: the most its unit vector can turn (``2 ||tol|| / ||x||``, at most 2)."""
        t = np.linalg.norm(self.embed_atol + self.embed_rtol * np.abs(x), axis=-1)
        return np.minimum(2.0, 2.0 * t / np.maximum(np.linalg.norm(x, axis=-1), 1e-12))


@dataclass
class Decision:
    """One decision that went the other way: ``out`` was kept by the reference side only,
    ``into`` by the other side only (indices within the modality)."""

    kind: str  # "audio score" | "odd-frame cosine" | "even-frame DPC score" | "even-frame density order"
    where: str
    out: int
    into: int
    margin: float
    bound: float

    @property
    def near_tie(self) -> bool:
        return self.margin <= self.bound

    def __str__(self) -> str:
        verdict = "near tie" if self.near_tie else "NOT a near tie"
        return (f"{self.where}: {self.kind} of tokens {self.out} (reference) / {self.into} (other): "
                f"margin {self.margin:.3g}, bound {self.bound:.3g}: {verdict}")


@dataclass
class Report:
    decisions: List[Decision] = field(default_factory=list)
    #: Frames whose count (and so kept set) changed only because the audio mask did.
    count_changes: List[str] = field(default_factory=list)
    unexplained: List[str] = field(default_factory=list)

    @property
    def failures(self) -> List[str]:
        return self.unexplained + [str(d) for d in self.decisions if not d.near_tie]

    def check(self) -> None:
        assert not self.failures, "keep masks differ beyond near ties:\n  " + "\n  ".join(self.failures + [
            f"(explained: {d})" for d in self.decisions if d.near_tie])

    def summary(self) -> str:
        if not self.decisions:
            return "0 differing decisions (masks identical)" if not self.count_changes else \
                f"0 differing decisions, {len(self.count_changes)} frame counts changed"
        m = [d.margin for d in self.decisions]
        ratio = max(d.margin / d.bound for d in self.decisions)
        kinds = sorted({d.kind for d in self.decisions})
        return (f"{len(self.decisions)} differing decisions ({', '.join(kinds)}), "
                f"margins {min(m):.3g} .. {max(m):.3g}, "
                f"largest margin/bound {ratio:.3g}; {len(self.count_changes)} frame counts changed with the audio mask")


# -- the decisions, as algorithm.md states them (float64) -------------------------------------

def top_dom(scores: np.ndarray, rho_audio: float) -> np.ndarray:
    """Mask of the ``dom`` highest scores, lower index first on ties."""
    n = scores.shape[0]
    dom = int(max(0, min(n, round((1 - rho_audio) * n))))
    order = np.lexsort((np.arange(n), -scores))
    mask = np.zeros(n, dtype=bool)
    mask[order[:dom]] = True
    return mask


def dpc(frame: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DPC-kNN on one frame [P, D]: (rho, score, nearest denser neighbour or -1 for a peak,
    the distances with the diagonal +inf)."""
    p = frame.shape[0]
    u = frame / np.maximum(np.linalg.norm(frame, axis=1, keepdims=True), 1e-12)
    dist = 1.0 - u @ u.T
    off = dist.copy()
    np.fill_diagonal(off, np.inf)
    if p < 2:
        return np.ones(p), np.zeros(p), np.full(p, -1), off
    k = min(5, p - 1)
    rho = np.exp(-np.sort(off, axis=1)[:, :k].mean(axis=1))
    denser = rho[None, :] > rho[:, None]  # [p, q]: rho_q > rho_p
    masked = np.where(denser, off, np.inf)
    nn = np.argmin(masked, axis=1)  # first minimum: lower index on ties
    delta = masked[np.arange(p), nn]
    peak = ~denser.any(axis=1)
    zero_diag = dist.copy()
    np.fill_diagonal(zero_diag, 0.0)
    delta = np.where(peak, zero_diag.max(axis=1), delta)
    return rho, rho * delta, np.where(peak, -1, nn), off


def frame_cosines(frame: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Cosine similarity of each token with the same token of the previous frame."""
    norms = np.linalg.norm(frame, axis=1) * np.linalg.norm(previous, axis=1)
    return (frame * previous).sum(axis=1) / np.maximum(norms, 1e-8)


# -- the explanation -------------------------------------------------------------------------

def _sorted(tokens: Sequence[int], value: np.ndarray, kept: bool) -> List[int]:
    """Kept tokens weakest first, dropped ones strongest first (a higher value is stronger)."""
    return sorted(tokens, key=lambda x: ((value[x] if kept else -value[x]), x))


def _pairs(out: Sequence[int], into: Sequence[int], value: np.ndarray) -> List[Tuple[int, int]]:
    """Pair the tokens only one side kept, closest first: the reference side's weakest kept
    with the strongest it dropped (so the last pair has the largest gap of all out x into
    pairs). Unpaired tokens (lists of different lengths) are left out. Higher ``value`` wins."""
    return list(zip(_sorted(out, value, True), _sorted(into, value, False)))


def _frames(video_runs: Sequence[int], p: int):
    """(run, frame index within the run, first token) of every whole frame, in run order."""
    start = 0
    for r, n in enumerate(video_runs):
        for t in range(n // p):
            yield r, t, start + t * p
        start += n


def _audio(ref: Side, other: Side, ref_answer: Answer, other_answer: Answer, rho_audio: float,
           tol: Tolerance, report: Report) -> None:
    top_ref, top_other = top_dom(ref.scores, rho_audio), top_dom(other.scores, rho_audio)
    for name, top, answer in (("reference", top_ref, ref_answer), ("other", top_other, other_answer)):
        if not answer.audio_keep[top].all():
            report.unexplained.append(f"audio: the {name} side's answer drops a top-dom token of its own scores")
    if np.array_equal(ref_answer.audio_keep, other_answer.audio_keep):
        return
    if np.array_equal(top_ref, top_other):
        report.unexplained.append("audio: the masks differ although the top-dom sets are the same")
        return
    out, into = np.flatnonzero(top_ref & ~top_other), np.flatnonzero(top_other & ~top_ref)
    s, t = ref.scores, tol.scores(ref.scores)
    for i, j in _pairs(out, into, s):  # the sidecar ranks the float32 scores as given: no slack
        report.decisions.append(Decision("audio score", "audio", i, j, abs(s[i] - s[j]), t[i] + t[j]))


def _counts_only(ref_answer: Answer, bridge: Answer, video_runs: Sequence[int], p: int, report: Report) -> None:
    """Reference vs bridge: same rows, other scores: frames may differ in count only."""
    for n, (r, t, a) in enumerate(_frames(video_runs, p)):
        x, y = ref_answer.video_keep[a:a + p], bridge.video_keep[a:a + p]
        if np.array_equal(x, y):
            continue
        if ref_answer.frame_kept[n] == bridge.frame_kept[n] or not (np.all(x <= y) or np.all(y <= x)):
            report.unexplained.append(f"run {r} frame {t}: the reference's and the bridge's kept sets differ "
                                      "although only the scores did (not a count change)")
        else:
            report.count_changes.append(f"run {r} frame {t}: {ref_answer.frame_kept[n]} -> {bridge.frame_kept[n]}")


def _odd_frame(ref: Side, a: int, p: int, out: np.ndarray, into: np.ndarray, where: str, tol: Tolerance,
               report: Report) -> None:
    cur, prev = ref.video[a:a + p], ref.video[a - p:a]
    c = frame_cosines(cur, prev)
    e_cur, e_prev = tol.turn(cur), tol.turn(prev)
    dc = e_cur + e_prev + e_cur * e_prev
    for i, j in _pairs(out, into, -c):  # the lowest cosines are kept
        report.decisions.append(Decision("odd-frame cosine", where, a + i, a + j, abs(c[i] - c[j]),
                                         dc[i] + dc[j] + FLOAT32_SLACK))


def _even_frame(ref: Side, other: Side, a: int, p: int, out: np.ndarray, into: np.ndarray, where: str,
                tol: Tolerance, report: Report) -> None:
    rho, score, nn, dist = dpc(ref.video[a:a + p])
    rho_o, _, nn_o, _ = dpc(other.video[a:a + p])
    e = float(tol.turn(ref.video[a:a + p]).max())
    ed = 2 * e + e * e
    drho = rho * np.expm1(ed)
    delta = score / rho
    dscore = drho * (delta + ed) + rho * ed

    def flip(x: int) -> Optional[Tuple[float, float]]:
        """(gap, bound) of the density order that can move x's delta discontinuously, if any:
        a pair (x, q) whose order differs between the sides and changed x's nearest denser
        neighbour, or (for the sidecar's float32 order) a near tie with a q that is or would
        be that neighbour. The one with the smallest gap / bound."""
        found = []
        for q in range(p):
            if q == x:
                continue
            gap, bound = abs(rho[x] - rho[q]), drho[x] + drho[q] + FLOAT32_SLACK
            flipped = (rho[q] > rho[x]) != (rho_o[q] > rho_o[x]) and nn[x] != nn_o[x] and q in (nn[x], nn_o[x])
            could = gap <= bound and (q in (nn[x], nn_o[x]) or dist[x, q] < delta[x])
            if flipped or could:
                found.append((gap, bound))
        return min(found, key=lambda f: f[0] / f[1]) if found else None

    flips = {x: flip(x) for x in list(out) + list(into)}
    steady_out = [i for i in out if flips[i] is None]
    steady_in = [j for j in into if flips[j] is None]
    # Tokens whose delta held: ranked by a continuous score, closest pairs first.
    steady = _pairs(steady_out, steady_in, score)
    for i, j in steady:
        report.decisions.append(Decision("even-frame DPC score", where, a + i, a + j, abs(score[i] - score[j]),
                                         dscore[i] + dscore[j] + FLOAT32_SLACK))
    # The rest swapped with a token whose delta jumped: the decision is that density order.
    paired = {x for pair in steady for x in pair}
    rest_out = [i for i in _sorted(out, score, True) if i not in paired]
    rest_in = [j for j in _sorted(into, score, False) if j not in paired]
    for i, j in zip(rest_out, rest_in):
        candidates = [f for f in (flips[i], flips[j]) if f is not None]
        if not candidates:
            report.unexplained.append(f"{where}: tokens {a + i} / {a + j} swapped without a score or density tie")
            continue
        gap, bound = min(candidates, key=lambda f: f[0] / f[1])
        report.decisions.append(Decision("even-frame density order", where, a + i, a + j, gap, bound))


def _embedding_decisions(ref: Side, other: Side, bridge: Answer, other_answer: Answer, video_runs: Sequence[int],
                         p: int, tol: Tolerance, report: Report) -> None:
    """Bridge vs other: same per-frame counts, other rows: within-frame ranking decisions."""
    for r, t, a in _frames(video_runs, p):
        x, y = bridge.video_keep[a:a + p], other_answer.video_keep[a:a + p]
        if np.array_equal(x, y):
            continue
        where = f"run {r} frame {t}"
        if x.sum() != y.sum():
            report.unexplained.append(f"{where}: the bridge keeps {x.sum()} tokens, the other side {y.sum()}")
            continue
        out, into = np.flatnonzero(x & ~y), np.flatnonzero(y & ~x)
        if t % 2:
            _odd_frame(ref, a, p, out, into, where, tol, report)
        else:
            _even_frame(ref, other, a, p, out, into, where, tol, report)


def explain(ref: Side, other: Side, ref_answer: Answer, other_answer: Answer, bridge: Answer,
            video_runs: Sequence[int], tokens_per_frame: int, rho_audio: float, tol: Tolerance) -> Report:
    """Explain every difference between ``ref_answer`` (the sidecar on ``ref``) and
    ``other_answer`` (the sidecar on ``other``). ``bridge`` is the sidecar's answer on
    ``ref``'s audio and video rows with ``other``'s scores (same parameters)."""
    report = Report()
    p = int(tokens_per_frame)
    _audio(ref, other, ref_answer, other_answer, rho_audio, tol, report)
    if not np.array_equal(bridge.audio_keep, other_answer.audio_keep):
        report.unexplained.append("the bridge's audio mask differs from the other side's (same scores)")
    if not (np.array_equal(bridge.frame_kept, other_answer.frame_kept)
            and np.array_equal(bridge.chunk_ratio, other_answer.chunk_ratio)):
        report.unexplained.append("the bridge's per-frame counts or run ratios differ from the other side's "
                                  "(same scores)")
    _counts_only(ref_answer, bridge, video_runs, p, report)
    if not report.unexplained:
        _embedding_decisions(ref, other, bridge, other_answer, video_runs, p, tol, report)
    # Tokens past the last whole frame of a run, and runs shorter than a frame: no decision.
    start = 0
    for r, n in enumerate(video_runs):
        tail = slice(start + (n // p) * p, start + n)
        if not np.array_equal(bridge.video_keep[tail], other_answer.video_keep[tail]) or \
                not np.array_equal(ref_answer.video_keep[tail], bridge.video_keep[tail]):
            report.unexplained.append(f"run {r}: tokens outside whole frames differ")
        start += n
    return report


def closest_decisions(side: Side, answer: Answer, video_runs: Sequence[int], tokens_per_frame: int,
                      rho_audio: float) -> Dict[str, float]:
    """How near one side's own decisions are to flipping: per kind, the smallest gap between
    the weakest token kept and the strongest dropped (float64; a gap at float32 resolution,
    or just below 0, is a tie the sidecar broke in float32)."""
    p = int(tokens_per_frame)
    gaps: Dict[str, float] = {}
    top = top_dom(side.scores, rho_audio)
    if top.any() and not top.all():
        gaps["audio score"] = float(side.scores[top].min() - side.scores[~top].max())
    for _, t, a in _frames(video_runs, p):
        keep = answer.video_keep[a:a + p]
        if keep.all() or not keep.any():
            continue
        if t % 2:
            c = frame_cosines(side.video[a:a + p], side.video[a - p:a])
            kind, gap = "odd-frame cosine", c[~keep].min() - c[keep].max()
        else:
            score = dpc(side.video[a:a + p])[1]
            kind, gap = "even-frame DPC score", score[keep].min() - score[~keep].max()
        gaps[kind] = min(gaps.get(kind, np.inf), float(gap))
    return gaps
