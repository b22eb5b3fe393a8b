"""The checks every vLLM engine configuration must pass against the transformers reference.

Two kinds, kept apart on purpose:

- exact (torch.equal / bit for bit): what the plugin does with what its encoders gave it.
  The sidecar asked again with the very tensors vLLM sent returns the masks and anchors vLLM
  applied; the rows and positions that reach the language model are the full transformers
  prompt's layout filled with vLLM's own rows, sliced by vLLM's keep mask.
- measured, within a stated tolerance: what two frameworks compute with different kernels
  (vLLM's encoder outputs and scores against transformers'). Their keep masks must be equal
  or differ only by near ties (margins.py), and greedy tokens are compared on the inputs vLLM
  actually used, a difference allowed only where transformers' top-2 logits nearly tie.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import torch
from omnizip_client.budget import budget

from conftest import METRICS, Engine, SidecarCall, vllm_request
from margins import Answer, Side, Tolerance, closest_decisions, explain

STEPS = 8

#: vLLM's encoder outputs against transformers' (both float32 on CPU, different kernels).
#: Measured on an AVX-512 AMD EPYC: rows at most 2.2e-7 apart (values up to 0.6, row norms
#: 0.5..2), scores 1.2e-7 (values 0.98..1.01, one float32 ulp). The tolerance is about 50x
#: that for rows and 80x for scores, and far below what a real bug gives (each row or score
#: taken from its neighbour token or frame: max differences 0.01 for scores, 0.3..0.55 for
#: rows). margins.py derives its near-tie bounds from it.
ENCODER_TOLERANCE = Tolerance(embed_atol=1e-5, embed_rtol=1e-5, score_atol=5e-6, score_rtol=5e-6)

#: Greedy tokens may differ from transformers' (fed vLLM's very inputs) only at a step whose
#: transformers top-1/top-2 logit gap is below this. The two language models' kernels
#: disagree on that gap by at most 4.8e-6 here (vLLM's raw logprobs against transformers'
#: logits, in METRICS); 1e-3 is 200x that. Transformers' smallest gap on the test prompt is 0.059.
LOGIT_TIE = 1e-3


def unpack(bits: np.ndarray, n: int) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(bits)[:n].astype(bool))


def sidecar_keep_mask(full_prompt: Any, call: Dict[str, Any], cfg: Any) -> torch.Tensor:
    """The sidecar's split-layout answer in vLLM, mapped onto the FULL transformers prompt."""
    ids = full_prompt.input_ids[0]
    audio, video = ids == cfg.audio_token_id, ids == cfg.video_token_id
    keep = torch.ones(ids.shape[0], dtype=torch.bool)
    keep[audio] = unpack(call["audio_keep"], int(audio.sum()))
    keep[video] = unpack(call["video_keep"], int(video.sum()))
    return keep


def maximal_runs(ids: torch.Tensor, audio_id: int, video_id: int) -> Tuple[List[int], List[int]]:
    """(audio run lengths, video run lengths) of a prompt: its maximal runs of one modality."""
    runs: Dict[int, List[int]] = {audio_id: [], video_id: []}
    last = None
    for t in ids.tolist():
        if t in runs:
            if t == last:
                runs[t][-1] += 1
            else:
                runs[t].append(1)
        last = t
    return runs[audio_id], runs[video_id]


def decode_position_rule(mode: str, full_prompt: Any, compressed_len: int) -> Callable[[int], int]:
    full_max = int(full_prompt.position_ids.max())
    if mode == "reference":  # the reference's generate(): L + t + rope_deltas == max + 1 + t
        return lambda t: full_max + 1 + t
    return lambda t: compressed_len + t + full_prompt.rope_deltas  # unpruned rope_deltas on vLLM's counter


def differences(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """Max abs difference, and max relative difference where |expected| is not tiny."""
    a, e = actual.double(), expected.double()
    diff = (a - e).abs()
    big = e.abs() > 1e-3 * e.abs().max()
    return f"max abs {diff.max().item():.3g}, max rel {(diff[big] / e[big].abs()).max().item():.3g}"


def ask(client: Any, audio: torch.Tensor, video: torch.Tensor, scores: torch.Tensor, sent: SidecarCall) -> Any:
    """The sidecar, split layout, with the layout and parameters of vLLM's call."""
    return client.compress(audio_embeds=audio, video_embeds=video, audio_scores=scores,
                           video_grid_thw=torch.tensor(sent.grid_thw), audio_chunk_lens=sent.audio_runs,
                           video_chunk_lens=sent.video_runs, **sent.params)


class Run:
    """One request through an engine, and what it should equal."""

    def __init__(self, engine: Engine, clip: Dict[str, Any], reference: Any, full_prompt: Any, hf_compressed: Any,
                 client: Any, mode: str, label: str, request: Any = None) -> None:
        calls_before = len(engine.model.omnizip_calls)
        self.out = engine.generate(request or vllm_request(clip), max_tokens=STEPS)
        self.new_calls = len(engine.model.omnizip_calls) - calls_before
        self.call = engine.model.omnizip_calls[-1]
        # The tensors of that call: the recorder must have seen the very call the plugin logged.
        assert engine.recorder.calls, "the sidecar recorder saw no call: does model.py still call compress_split?"
        self.sent: SidecarCall = engine.recorder.calls[-1]
        assert self.sent.result.request_id == self.call["request_id"]
        self.tokens: List[int] = list(self.out.outputs[0].token_ids)
        self.logprobs = self.out.outputs[0].logprobs
        self.prompt_ids: List[int] = list(self.out.prompt_token_ids)
        self.cached = int(self.out.num_cached_tokens or 0)  # prefix-cache hits are not recomputed
        computed = len(self.prompt_ids) - self.cached
        self.prefill = engine.prefill(computed)
        self.decode_positions = engine.decode_positions(computed)
        self.engine, self.reference, self.client = engine, reference, client
        self.full, self.hf = full_prompt, hf_compressed
        self.cfg = reference.config
        self.mode, self.label = mode, label
        ids = full_prompt.input_ids[0]
        self.is_audio, self.is_video = ids == self.cfg.audio_token_id, ids == self.cfg.video_token_id
        self.keep = sidecar_keep_mask(full_prompt, self.call, self.cfg)

    # -- what vLLM's language model should have seen, built without the plugin's layout code ---

    def expected_rows(self) -> torch.Tensor:
        """[K, D]: the full transformers prompt's order, text rows from the embedding table,
        the i-th audio (video) token of the prompt = vLLM's i-th audio (video) row (merged
        anchors written first), sliced by vLLM's keep mask."""
        ids, sent = self.full.input_ids[0], self.sent
        rows = self.reference.model.get_input_embeddings().weight[ids].clone()
        audio = sent.audio.clone()
        merged = torch.as_tensor(sent.result.merged_index, dtype=torch.long).reshape(-1)
        audio[merged] = torch.as_tensor(sent.result.merged_embeds).to(audio.dtype)
        rows[self.is_audio] = audio
        rows[self.is_video] = sent.video.to(rows.dtype)
        return rows[self.keep]

    def hf_encoders(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """transformers' audio rows, video rows (from the full prompt) and audio scores."""
        rows = self.full.inputs_embeds[0]
        return rows[self.is_audio], rows[self.is_video], self.full.audio_scores

    @property
    def tokens_per_frame(self) -> int:
        _, h, w = self.sent.grid_thw
        return (h // 2) * (w // 2)

    def expected_positions(self) -> torch.Tensor:
        """[3, K]: get_rope_index of the full prompt, sliced by vLLM's keep mask."""
        return self.full.position_ids[:, 0, self.keep]

    # -- the checks -------------------------------------------------------------------------

    def check_prompt_length(self) -> None:
        """text + K_a + K* (+ short runs): sized from sizes alone, equal to the reference's."""
        full, cfg = self.full, self.cfg
        n_audio, n_video = int(self.is_audio.sum()), int(self.is_video.sum())
        text = full.length - n_audio - n_video
        grid = full.video_grid_thw[0].tolist()
        per_frame = (grid[1] // 2) * (grid[2] // 2)
        # The runs as transformers laid the full prompt out, the parameters the plugin sent.
        audio_runs, video_runs = maximal_runs(full.input_ids[0], cfg.audio_token_id, cfg.video_token_id)
        params = {k: v for k, v in self.sent.params.items() if k != "video_budget"}
        b = budget(audio_runs, video_runs, per_frame, **params)
        assert len(self.prompt_ids) == text + b.kept_audio + b.video_target + b.short_video == self.hf.length
        prompt = torch.tensor(self.prompt_ids)
        assert int((prompt == cfg.audio_token_id).sum()) == b.kept_audio
        assert int((prompt == cfg.video_token_id).sum()) == b.video_target + b.short_video
        METRICS[f"{self.label}: prompt tokens before -> after compression"] = f"{full.length} -> {len(self.prompt_ids)}"
        METRICS[f"{self.label}: sidecar call (wall, in vLLM) / server compress"] = (
            f"{self.call['sidecar_ms']:.1f} ms / {self.call['server_ms']} ms")

    def check_sidecar_answer(self) -> None:
        """Exact: the sidecar asked again (another process, same parameters, video_budget=exact)
        with the tensors vLLM sent gives bit for bit the masks vLLM applied and the same
        merged anchors."""
        sent = self.sent
        assert sent.params["video_budget"] == "exact"
        again = ask(self.client, sent.audio, sent.video, sent.scores, sent)
        for name in ("audio_keep", "video_keep"):
            mask = torch.as_tensor(getattr(again, name), dtype=torch.bool).reshape(-1)
            assert torch.equal(mask, unpack(self.call[name], mask.numel())), f"{name} differs from what vLLM applied"
        for result in (again, sent.result):
            assert torch.equal(torch.as_tensor(result.merged_index), torch.as_tensor(again.merged_index))
            assert torch.equal(torch.as_tensor(result.merged_embeds), torch.as_tensor(sent.result.merged_embeds))
        assert len(again.merged_index) == self.call["merged"] > 0

    def check_rows(self) -> None:
        """Exact: the rows reaching the language model are the full prompt laid out with vLLM's
        own encoder rows and the sidecar's anchors, sliced by vLLM's keep mask (minus the rows
        a prefix-cache hit did not recompute)."""
        hf_table = self.reference.model.get_input_embeddings().weight
        vllm_table = self.engine.model.get_language_model().model.embed_tokens.weight
        # The same float32 table in both frameworks, so a text row looked up in either is the same.
        assert torch.equal(vllm_table[:hf_table.shape[0]].cpu(), hf_table)
        # vLLM's text tokens are the full prompt's (its media placeholders only count).
        prompt = torch.tensor(self.prompt_ids)
        media = (prompt == self.cfg.audio_token_id) | (prompt == self.cfg.video_token_id)
        kept_ids = self.full.input_ids[0, self.keep]
        assert torch.equal(prompt[~media], kept_ids[~(self.is_audio | self.is_video)[self.keep]])
        assert torch.equal(self.prefill["inputs_embeds"].cpu(), self.expected_rows()[self.cached:]), \
            "the rows vLLM prefilled are not vLLM's encoder rows in the prompt's layout"

    def check_positions(self) -> None:
        """Exact: positions reaching the language model == transformers' get_rope_index on the
        full prompt, sliced by the sidecar's keep mask."""
        assert torch.equal(self.prefill["positions"].reshape(3, -1).cpu(), self.expected_positions()[:, self.cached:])

    def check_encoders_close(self) -> None:
        """Measured: vLLM's audio rows, video rows and audio scores against transformers', within
        ENCODER_TOLERANCE (two frameworks' kernels, never bit-identical across CPUs)."""
        audio, video, scores = self.hf_encoders()
        tol = ENCODER_TOLERANCE
        pairs = {"audio rows": (self.sent.audio, audio, tol.embed_atol, tol.embed_rtol),
                 "video rows": (self.sent.video, video, tol.embed_atol, tol.embed_rtol),
                 "audio scores": (self.sent.scores, scores, tol.score_atol, tol.score_rtol)}
        for name, (actual, expected, atol, rtol) in pairs.items():
            METRICS[f"{self.label}: {name}, vLLM vs transformers"] = differences(actual, expected)
        for name, (actual, expected, atol, rtol) in pairs.items():
            torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=lambda m, n=name: f"{n}: {m}")

    def check_masks_equal_or_near_ties(self) -> None:
        """Measured: vLLM's keep mask and transformers' (its own rows and scores through the
        sidecar) are equal, or every differing decision is a near tie within the bound that
        ENCODER_TOLERANCE allows (margins.py)."""
        sent, cfg = self.sent, self.cfg
        hf = Side.of(*self.hf_encoders())
        hf_answer = Answer.interleaved(self.hf.result, self.full.input_ids[0], cfg.audio_token_id, cfg.video_token_id)
        # transformers' interleaved call and a split call like vLLM's make the same decisions.
        hf_split = Answer.split(ask(self.client, *self.hf_encoders(), sent))
        assert np.array_equal(hf_split.audio_keep, hf_answer.audio_keep)
        assert np.array_equal(hf_split.video_keep, hf_answer.video_keep)
        # transformers' rows with vLLM's scores: vLLM's audio mask and per-frame counts.
        bridge = Answer.split(ask(self.client, *self.hf_encoders()[:2], sent.scores, sent))
        p, rho_audio = self.tokens_per_frame, sent.params["rho_audio"]
        report = explain(hf, Side.of(sent.audio, sent.video, sent.scores), hf_answer, Answer.split(sent.result), bridge,
                         sent.video_runs, p, rho_audio, ENCODER_TOLERANCE)
        METRICS[f"{self.label}: keep mask vs transformers'"] = report.summary()
        closest = closest_decisions(hf, hf_answer, sent.video_runs, p, rho_audio)
        METRICS[f"{self.label}: transformers' own closest decisions (gap kept/dropped)"] = ", ".join(
            f"{kind} {gap:.3g}" for kind, gap in closest.items())
        report.check()

    def check_greedy(self) -> None:
        """Greedy tokens == the transformers thinker's fed the rows and positions vLLM used
        (check_rows/check_positions prove those; cached rows are rebuilt), decoding at the
        positions of the configured mode (checked exactly). A differing token is allowed only
        where transformers' top-2 logits are within LOGIT_TIE."""
        rule = decode_position_rule(self.mode, self.full, self.hf.length)
        assert self.decode_positions == [rule(t) for t in range(STEPS - 1)]
        embeds = torch.cat([self.expected_rows()[:self.cached], self.prefill["inputs_embeds"].cpu()])
        positions = torch.cat([self.expected_positions()[:, :self.cached],
                               self.prefill["positions"].reshape(3, -1).cpu()], dim=1)
        tokens, gaps = self._reference_greedy(embeds, positions, rule)
        vllm_gaps = [self._logprob_gap(t) for t in range(len(self.tokens))]
        common = [t for t in range(min(len(tokens), len(self.tokens))) if tokens[:t] == self.tokens[:t]]  # same context
        spread = max(abs(gaps[t] - vllm_gaps[t]) for t in common)
        METRICS[f"{self.label}: greedy top-2 logit gap, transformers (min) / |vLLM - transformers| (max)"] = (
            f"{min(gaps):.3g} / {spread:.3g}")
        if tokens != self.tokens:
            t = next(i for i, (a, b) in enumerate(zip(tokens, self.tokens)) if a != b)
            assert gaps[t] < LOGIT_TIE, (f"greedy token {t}: vLLM {self.tokens[t]}, transformers {tokens[t]} with a "
                                         f"top-2 logit gap of {gaps[t]:.3g} (not a tie: bound {LOGIT_TIE})")
            METRICS[f"{self.label}: greedy tokens differ at a tie"] = f"step {t}, transformers gap {gaps[t]:.3g}"

    def _reference_greedy(self, embeds: torch.Tensor, positions: torch.Tensor,
                          rule: Callable[[int], int]) -> Tuple[List[int], List[float]]:
        """The transformers thinker's greedy tokens and logit gaps from this prefill."""
        return self.reference.greedy(embeds[None], positions[:, None], STEPS, rule)

    def _logprob_gap(self, t: int) -> float:
        """vLLM's top-1 minus top-2 raw logprob at step t (= the logit gap)."""
        best = sorted((lp.logprob for lp in self.logprobs[t].values()), reverse=True)
        return best[0] - best[1] if len(best) > 1 else float("nan")
