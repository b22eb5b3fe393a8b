"""Qwen3-Omni building blocks on their own (issue 20): windowed audio scores and the capture of
the last audio layer's Q/K/windows; the audio-in-video span layout from sizes. Checked against
transformers 5.19 on a tiny random Qwen3-Omni-MoE built once per session, and against the
sidecar (split vs interleaved layout, ``model="qwen3-omni"``). No vLLM engine is started."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import METRICS
from torch import nn

import media
import tiny_qwen3_model
from omnizip_vllm.positions import qwen3_audio_token_count, span_layout_qwen3
from omnizip_vllm.scores import QKVCapture, qwen3_audio_windows, windowed_audio_scores

# The real Qwen3-Omni-30B-A3B thinker's ids (FINDINGS 1.3), for the sidecar calls.
REAL = dict(audio=151675, video=151656, audio_start=151669, audio_end=151670, vision_start=151652, vision_end=151653)


@pytest.fixture(scope="module")
def q3(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoProcessor
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import (
        Qwen3OmniMoeThinkerForConditionalGeneration)

    out = tmp_path_factory.mktemp("tiny-qwen3-omni")
    tiny_qwen3_model.build(out)
    processor = AutoProcessor.from_pretrained(str(out))
    thinker = Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(str(out), dtype=torch.float32).eval()
    assert thinker.config.position_id_per_seconds == 13
    return SimpleNamespace(dir=out, processor=processor, model=thinker, config=thinker.config)


def clips(seconds):
    """Audio clips of the given lengths (seconds, may be fractional), from media.audio()."""
    wave = media.audio(seconds=int(np.ceil(max(seconds))))
    return [wave[:int(s * media.SAMPLE_RATE)] for s in seconds]


def run_tower(q3, waves, capture):
    """The thinker's audio features of ``waves`` (one batch), with ``capture`` armed."""
    fe = q3.processor.feature_extractor(waves, sampling_rate=media.SAMPLE_RATE, return_attention_mask=True,
                                        padding=True, return_tensors="pt")
    with torch.no_grad(), capture:
        feats = q3.model.get_audio_features(fe["input_features"], fe["attention_mask"])
    return feats.last_hidden_state, fe["attention_mask"].sum(-1)


def literal_scores(q, k, heads, cu, dtype=torch.float64):
    """The formula written out, one window and one head at a time: softmax(q_w k_w^T d^-0.5)
    over the window's keys, mean over heads, sum over the window's queries."""
    n = q.shape[0]
    d = q.shape[1] // heads
    qh = q.to(dtype).reshape(n, heads, d)
    kh = k.to(dtype).reshape(n, heads, d)
    out = torch.zeros(n, dtype=dtype)
    cu = [int(x) for x in cu]
    for s, e in zip(cu[:-1], cu[1:]):
        per_head = [torch.softmax((qh[s:e, h] @ kh[s:e, h].T) * d ** -0.5, dim=-1) for h in range(heads)]
        out[s:e] = torch.stack(per_head).mean(dim=0).sum(dim=0)
    return out


def literal_scores_in(q, k, heads, cu, dtype):
    """The per-window formula computed entirely in ``dtype`` (what the reference does in bf16)."""
    n = q.shape[0]
    qh = q.to(dtype).reshape(n, heads, -1).transpose(0, 1)
    kh = k.to(dtype).reshape(n, heads, -1).transpose(0, 1)
    out = torch.zeros(n, dtype=dtype)
    cu = [int(x) for x in cu]
    for s, e in zip(cu[:-1], cu[1:]):
        w = torch.softmax((qh[:, s:e] @ kh[:, s:e].transpose(-1, -2)) * qh.shape[-1] ** -0.5, dim=-1)
        out[s:e] = w.mean(0).sum(0)
    return out


# ------------------------------------------------------------------------ windows and scores


@pytest.mark.parametrize("seconds,expected_cu", [((8,), [0, 52, 104]), ((8, 5.3), None), ((0.6,), None),
                                                 ((3, 12.5), None)])
def test_windows_from_sizes_equal_the_encoders(q3, seconds, expected_cu):
    """The windows the last audio layer attends in (captured from transformers' encoder) equal
    qwen3_audio_windows computed from the mel lengths; the tokens equal qwen3_audio_token_count."""
    cap = QKVCapture(q3.model.audio_tower.layers[-1].self_attn)
    try:
        feats, lengths = run_tower(q3, clips(seconds), cap)
        q, k, cu = cap.take()
    finally:
        cap.remove()
    audio_cfg = q3.config.audio_config
    mine = qwen3_audio_windows(lengths.tolist(), audio_cfg.n_window, audio_cfg.n_window_infer)
    assert torch.equal(mine.to(torch.int64), cu.to(torch.int64)), (mine, cu)
    if expected_cu is not None:
        assert cu.tolist() == expected_cu
    assert q.shape[0] == k.shape[0] == feats.shape[0] == int(cu[-1])
    assert feats.shape[0] == sum(qwen3_audio_token_count(n) for n in lengths.tolist())


def test_windowed_scores_equal_literal_float64_formula(q3):
    """Scores from Q/K captured on transformers' last audio layer equal an independent float64
    recomputation, per window; each window's scores sum to its length; blocking changes nothing."""
    cap = QKVCapture(q3.model.audio_tower.layers[-1].self_attn)
    try:
        feats, _ = run_tower(q3, clips((8, 5.3)), cap)
        q, k, cu = cap.take()
    finally:
        cap.remove()
    heads = q3.config.audio_config.encoder_attention_heads
    assert cap.num_heads == heads and not cap.fused
    scores = windowed_audio_scores(q, k, heads, cu)
    ref = literal_scores(q, k, heads, cu)
    assert scores.dtype == torch.float32 and scores.shape == (feats.shape[0],)
    diff = float((scores.double() - ref).abs().max())
    METRICS["qwen3 windowed scores vs float64 literal, max |diff|"] = f"{diff:.2e} over {scores.numel()} tokens"
    assert diff < 1e-5
    for s, e in zip(cu[:-1].tolist(), cu[1:].tolist()):
        assert abs(float(scores[s:e].sum()) - (e - s)) < 1e-4
    blocked = windowed_audio_scores(q, k, heads, cu, block=7)
    assert float((blocked - scores).abs().max()) < 1e-6
    # Windows matter: the whole-clip formula (Qwen2.5's, without pairs) gives other scores.
    whole = literal_scores(q, k, heads, [0, int(cu[-1])])
    assert float((whole - ref).abs().max()) > 1e-3


def test_model_dtype_option_rounds_as_the_reference(q3):
    """dtype=None computes in the Q/K dtype: on bf16 Q/K it is exactly the per-window formula
    in bf16 and collapses to few distinct values; the float32 default on the same bf16 inputs is
    the float64 formula to 1e-5, with many more distinct values."""
    cap = QKVCapture(q3.model.audio_tower.layers[-1].self_attn)
    try:
        run_tower(q3, clips((8,)), cap)
        q, k, cu = cap.take()
    finally:
        cap.remove()
    heads = cap.num_heads
    qb, kb = q.to(torch.bfloat16), k.to(torch.bfloat16)
    rounded = windowed_audio_scores(qb, kb, heads, cu, dtype=None)
    assert rounded.dtype == torch.bfloat16
    assert torch.equal(rounded, literal_scores_in(qb, kb, heads, cu, torch.bfloat16))
    full = windowed_audio_scores(qb, kb, heads, cu)
    assert full.dtype == torch.float32
    assert float((full.double() - literal_scores(qb, kb, heads, cu)).abs().max()) < 1e-5
    n32, n16 = int(full.unique().numel()), int(rounded.unique().numel())
    gap = float((rounded.float() - full).abs().max())
    METRICS["qwen3 scores distinct values (8 s clip)"] = f"float32 {n32}, bf16 {n16}; max |bf16 - f32| {gap:.3f}"
    assert n16 < n32 / 4
    assert gap < 0.1


class FusedAudioAttention(nn.Module):
    """vLLM's Qwen3OmniMoeAudioAttention.forward, in plain torch: one qkv_proj returning
    (output, bias) like vLLM's QKVParallelLinear, then attention per cu_seqlens window."""

    def __init__(self, hf_attention: nn.Module) -> None:
        super().__init__()
        self.num_heads = self.num_local_heads = hf_attention.num_heads
        self.head_dim = hf_attention.head_dim
        dim = self.num_heads * self.head_dim
        self.linear = nn.Linear(dim, 3 * dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.cat([hf_attention.q_proj.weight, hf_attention.k_proj.weight,
                                                hf_attention.v_proj.weight]))
            self.linear.bias.copy_(torch.cat([hf_attention.q_proj.bias, hf_attention.k_proj.bias,
                                              hf_attention.v_proj.bias]))
        self.qkv_proj = _TupleLinear(self.linear)
        self.out_proj = hf_attention.out_proj

    def forward(self, hidden_states, cu_seqlens, max_seqlen=None, **kwargs):
        n = hidden_states.shape[0]
        qkv, _ = self.qkv_proj(hidden_states)
        q, k, v = (x.reshape(n, self.num_heads, self.head_dim).transpose(0, 1) for x in qkv.chunk(3, dim=-1))
        cu = cu_seqlens.tolist()
        out = torch.cat([torch.nn.functional.scaled_dot_product_attention(q[:, s:e], k[:, s:e], v[:, s:e])
                         for s, e in zip(cu[:-1], cu[1:])], dim=1)
        return self.out_proj(out.transpose(0, 1).reshape(n, -1))


class _TupleLinear(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return self.linear(x), None


def test_capture_of_a_fused_qkv_projection(q3):
    """The capture on a vLLM-style fused qkv_proj (output tuple, Q|K|V concatenated) gives the
    same Q, K, windows and scores as on transformers' separate q_proj/k_proj."""
    layer = q3.model.audio_tower.layers[-1]
    waves = clips((8, 5.3))
    plain = QKVCapture(layer.self_attn)
    try:
        ref_feats, _ = run_tower(q3, waves, plain)
        q0, k0, cu0 = plain.take()
    finally:
        plain.remove()
    original = layer.self_attn
    layer.self_attn = FusedAudioAttention(original)
    try:
        fused = QKVCapture(layer.self_attn)
        feats, _ = run_tower(q3, waves, fused)
        assert fused.fused and fused.num_heads == q3.config.audio_config.encoder_attention_heads
        q1, k1, cu1 = fused.take()
        fused.remove()
    finally:
        layer.self_attn = original
    assert float((feats - ref_feats).abs().max()) < 1e-4  # the stand-in computes the same layer
    assert torch.equal(cu0, cu1)
    assert float((q1 - q0).abs().max()) < 1e-5 and float((k1 - k0).abs().max()) < 1e-5
    heads = fused.num_heads
    diff = float((windowed_audio_scores(q1, k1, heads, cu1) - windowed_audio_scores(q0, k0, heads, cu0)).abs().max())
    METRICS["qwen3 scores fused qkv_proj vs q_proj/k_proj capture, max |diff|"] = f"{diff:.2e}"
    assert diff < 1e-5
    with pytest.raises(RuntimeError, match="one audio-tower call"):
        fused.take()  # nothing left, and nothing captured while disarmed


# ------------------------------------------------------------------------ span layout


def transformers_span(q3, grid, spg, audio_len):
    """(input_ids [L], positions [3, L] float) of ``x<span>y`` as transformers builds them."""
    proc, cfg = q3.processor, q3.config
    text = proc.replace_multimodal_special_tokens(
        [f"x{proc.vision_bos_token}{proc.video_token}{proc.vision_eos_token}y"], iter([audio_len]), iter([]),
        iter([torch.tensor(grid)]), video_second_per_grid=iter([spg]), use_audio_in_video=True,
        position_id_per_seconds=cfg.position_id_per_seconds, seconds_per_chunk=2)[0]
    ids = proc.tokenizer(text, return_tensors="pt")["input_ids"]
    feature_length = 100 * (audio_len // 13) + 8 * (audio_len % 13)  # mel frames giving audio_len tokens
    assert qwen3_audio_token_count(feature_length) == audio_len
    positions, _ = q3.model.get_rope_index(ids, None, torch.tensor([grid]), torch.ones_like(ids), True,
                                           torch.tensor([feature_length]), torch.tensor([spg]))
    return ids[0], positions[:, 0]


def assert_layout_matches(cfg, layout, ids, positions):
    """Token order, interior positions, both bos and both eos, relative to <|vision_start|>."""
    media_pos = ((ids == cfg.audio_token_id) | (ids == cfg.video_token_id)).nonzero().flatten()
    first, last = int(media_pos[0]), int(media_pos[-1])
    assert media_pos.numel() == last - first + 1 == layout.length
    assert (ids[first - 2], ids[first - 1]) == (cfg.vision_start_token_id, cfg.audio_start_token_id)
    assert (ids[last + 1], ids[last + 2]) == (cfg.audio_end_token_id, cfg.vision_end_token_id)
    assert torch.equal(ids[first:last + 1],
                       torch.from_numpy(layout.token_ids(cfg.audio_token_id, cfg.video_token_id)))
    assert torch.equal(positions, positions.round()), "transformers' positions are integral here"
    rel = (positions - positions[0, first - 2]).to(torch.int64)
    assert rel[:, first - 2:first].tolist() == [list(layout.BOS_REL)] * 3
    assert torch.equal(rel[:, first:last + 1], torch.from_numpy(layout.rel))
    assert rel[:, last + 1].tolist() == [layout.audio_end_rel] * 3
    assert rel[:, last + 2].tolist() == [layout.vision_end_rel] * 3
    assert rel[:, last + 3].tolist() == [layout.vision_end_rel + 1] * 3  # the text after


CASES = [
    # grid (patch units), second_per_grid, audio tokens, expected (audio runs, video runs)
    ((8, 4, 6), 1.0, 104, ([13] * 8, [6] * 8)),  # fps 2, audio and video end together
    ((8, 4, 6), 2.0, 104, ([26] * 4, [6] * 4 + [24])),  # fps 1 (the processor's default): surplus video
    ((4, 4, 6), 1.0, 80, ([13] * 3 + [41], [6] * 4)),  # audio longer than the video
    ((6, 2, 4), 2.0, 30, ([26, 4], [2, 2, 8])),  # audio shorter than the video
    ((1, 4, 4), 1.0, 13, ([13], [4])),  # one temporal grid
    ((1, 4, 4), 2.0, 40, ([40], [4])),
    ((1, 40, 40), 1.0, 4, ([4], [400])),  # wide frame, short audio: <|audio_end|> after the audio only
    ((3, 6, 4), 1.0, 14, ([13, 1], [6, 6, 6])),  # audio runs out just after a grid boundary
]


@pytest.mark.parametrize("grid,spg,audio_len,runs", CASES)
def test_span_layout_equals_transformers(q3, grid, spg, audio_len, runs):
    """From sizes alone, token for token transformers' processor expansion and get_rope_index."""
    layout = span_layout_qwen3(grid, spg, audio_len)
    ids, positions = transformers_span(q3, grid, spg, audio_len)
    assert_layout_matches(q3.config, layout, ids, positions)
    assert layout.runs() == runs
    audio_runs, video_runs = layout.runs()
    assert sum(audio_runs) == audio_len and sum(video_runs) == layout.video_len
    assert layout.grid_step == int(spg * 13)


@pytest.mark.parametrize("fps,spg,audio_runs", [(2.0, 1.0, [13] * 8), (None, 2.0, [26] * 4)])
def test_span_layout_from_the_processor_with_its_fps(q3, fps, spg, audio_runs):
    """The whole processor on the 8-s test clip, with fps 2 and with its default fps (1.0):
    second_per_grid = 2 / fps, and the layout from the processor's sizes equals its prompt."""
    kwargs = {"videos_kwargs": {"fps": fps}} if fps else {}
    prompt = ("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>describe the video"
              "<|im_end|>\n<|im_start|>assistant\n")
    inp = q3.processor(text=[prompt], audio=[media.audio()], videos=[media.frames()], return_tensors="pt",
                       use_audio_in_video=True, **kwargs)
    second_per_grid = float(torch.as_tensor(inp["video_second_per_grid"]).reshape(-1)[0])
    assert second_per_grid == spg
    feature_length = int(inp["feature_attention_mask"].sum())
    grid = inp["video_grid_thw"][0].tolist()
    layout = span_layout_qwen3(grid, second_per_grid, qwen3_audio_token_count(feature_length))
    positions, _ = q3.model.get_rope_index(inp["input_ids"], None, inp["video_grid_thw"], inp["attention_mask"], True,
                                           inp["feature_attention_mask"].sum(-1), inp["video_second_per_grid"])
    assert_layout_matches(q3.config, layout, inp["input_ids"][0], positions[:, 0])
    assert layout.runs()[0] == audio_runs


@pytest.mark.parametrize("spg,fps", [(2 / 3, "3"), (0.5, "4"), (0.8, "2.5"), (0.6, "3.33333")])
def test_fractional_positions_are_refused(q3, spg, fps):
    """second_per_grid * 13 not an integer: transformers' positions are fractional; refused
    with a message naming second_per_grid, the fps and what to pass instead."""
    with pytest.raises(ValueError) as info:
        span_layout_qwen3((4, 4, 4), spg, 40)
    text = str(info.value)
    assert "second_per_grid" in text and f"fps {fps}" in text and "'fps': 2" in text, text
    _, positions = transformers_span(q3, (4, 4, 4), spg, 40)  # transformers' are indeed fractional
    assert not torch.equal(positions, positions.round())


@pytest.mark.parametrize("t_grid", [4, 20, 60])
def test_integral_only_up_to_rounding(q3, t_grid):
    """fps 2.6: 2/2.6 * 13 is 10 only up to float rounding. Laid out only where transformers'
    own positions are integral and its order is the integer one, and then equal to it."""
    grid, spg, audio_len = (t_grid, 4, 4), 2 / 2.6, 10 * t_grid + 3
    ids, positions = transformers_span(q3, grid, spg, audio_len)
    try:
        layout = span_layout_qwen3(grid, spg, audio_len)
    except ValueError as exc:
        assert "fps 2.6" in str(exc)
        integral = span_layout_qwen3(grid, 1.0, audio_len, position_id_per_seconds=10)  # the same steps, exact
        cfg = q3.config
        order = ids[(ids == cfg.audio_token_id) | (ids == cfg.video_token_id)]
        same_order = torch.equal(order, torch.from_numpy(integral.token_ids(cfg.audio_token_id, cfg.video_token_id)))
        assert not (torch.equal(positions, positions.round()) and same_order)
        METRICS[f"qwen3 fps 2.6, {t_grid} grids"] = "refused"
    else:
        assert layout.grid_step == 10
        assert_layout_matches(q3.config, layout, ids, positions)
        METRICS[f"qwen3 fps 2.6, {t_grid} grids"] = "laid out, equal to transformers"


def test_refuses_bad_sizes():
    for grid, spg, na in [((0, 4, 4), 1.0, 10), ((2, 1, 4), 1.0, 10), ((2, 4, 4), 0.0, 10), ((2, 4, 4), -1.0, 10),
                          ((2, 4, 4), 1.0, -1)]:
        with pytest.raises(ValueError):
            span_layout_qwen3(grid, spg, na)


@pytest.mark.parametrize("grid,spg,audio_len", [((8, 4, 6), 1.0, 104), ((8, 4, 6), 2.0, 104), ((4, 4, 6), 1.0, 80),
                                                ((5, 8, 8), 1.0, 30)])
def test_split_runs_give_the_interleaved_keep_mask(client, grid, spg, audio_len):
    """The sidecar (model="qwen3-omni": Qwen3's ids and defaults) keeps the same tokens whether
    it gets the interleaved prompt or the split layout with this layout's run lengths."""
    from omnizip_client.budget import budget

    layout = span_layout_qwen3(grid, spg, audio_len)
    audio_runs, video_runs = layout.runs()
    gen = torch.Generator().manual_seed(sum(grid) + audio_len)
    dim = 64
    audio = torch.randn(audio_len, dim, generator=gen)
    video = torch.randn(layout.video_len, dim, generator=gen)
    scores = torch.rand(audio_len, generator=gen)
    head = [11, 12, 13, REAL["vision_start"], REAL["audio_start"]]
    tail = [REAL["audio_end"], REAL["vision_end"], 14, 15]
    ids = torch.tensor(head + layout.token_ids(REAL["audio"], REAL["video"]).tolist() + tail)
    embeds = torch.randn(ids.numel(), dim, generator=gen)
    span = slice(len(head), len(head) + layout.length)
    idx = torch.from_numpy(layout.index)
    is_a = torch.from_numpy(layout.is_audio)
    interior = torch.where(is_a[:, None], audio[idx.clamp(max=audio_len - 1)], video[idx.clamp(max=layout.video_len - 1)])
    embeds[span] = interior
    for vb in ("exact", "reference"):
        inter = client.compress(embeds, ids, scores, layout.grid_thw, model="qwen3-omni", video_budget=vb)
        split = client.compress(audio_embeds=audio, video_embeds=video, audio_scores=scores,
                                video_grid_thw=layout.grid_thw, audio_chunk_lens=audio_runs,
                                video_chunk_lens=video_runs, model="qwen3-omni", video_budget=vb)
        keep = torch.as_tensor(np.asarray(inter.keep_mask, dtype=bool)).reshape(-1)
        kept_span = keep[span]
        # the interleaved mask, in modality order, against the split masks
        audio_keep = torch.zeros(audio_len, dtype=torch.bool)
        video_keep = torch.zeros(layout.video_len, dtype=torch.bool)
        audio_keep[idx[is_a]] = kept_span[is_a]
        video_keep[idx[~is_a]] = kept_span[~is_a]
        assert torch.equal(torch.as_tensor(np.asarray(split.audio_keep, dtype=bool)).reshape(-1), audio_keep), vb
        assert torch.equal(torch.as_tensor(np.asarray(split.video_keep, dtype=bool)).reshape(-1), video_keep), vb
        assert keep[:span.start].all() and keep[span.stop:].all()  # text and special tokens stay
        assert 0 < int(kept_span.sum()) < layout.length
        if vb == "exact":
            b = budget(audio_runs, video_runs, layout.tokens_per_frame, model="qwen3-omni")
            assert (int(audio_keep.sum()), int(video_keep.sum())) == (b.kept_audio, b.kept_video)
