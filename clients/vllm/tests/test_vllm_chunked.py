"""vLLM with chunked prefill (64 tokens a step: the compressed span reaches the model in ~10
slices) and prefix caching on."""

from __future__ import annotations

import pytest

from checks import Run
from conftest import Engine

pytestmark = pytest.mark.vllm

BATCHED_TOKENS = 64


@pytest.fixture(scope="module")
def engine(model_dir, sidecar):
    e = Engine(model_dir, sidecar.url, {}, enable_chunked_prefill=True,
               max_num_batched_tokens=BATCHED_TOKENS, enable_prefix_caching=True)
    yield e
    e.close()


@pytest.fixture(scope="module")
def run(engine, clip, reference, full_prompt, hf_compressed, client):
    r = Run(engine, clip, reference, full_prompt, hf_compressed, client, mode="reference", label="vLLM chunked")
    assert r.new_calls == 1
    assert r.prefill["chunks"] >= len(r.prompt_ids) // BATCHED_TOKENS  # really chunked
    return r


def test_chunked_prompt_length(run):
    run.check_prompt_length()


def test_chunked_positions_equal_get_rope_index_sliced_by_keep_mask(run):
    run.check_positions()


def test_chunked_sidecar_answer_reproduces_exactly(run):
    run.check_sidecar_answer()


def test_chunked_rows_equal_vllm_encoder_rows_in_prompt_layout(run):
    run.check_rows()


def test_chunked_encoders_agree_with_transformers_within_tolerance(run):
    run.check_encoders_close()


def test_chunked_keep_mask_equals_transformers_or_differs_by_near_ties(run):
    run.check_masks_equal_or_near_ties()


def test_chunked_greedy_tokens_equal_transformers_on_vllm_inputs(run):
    run.check_greedy()


def test_chunked_repeated_request_prefix_and_encoder_cache(run, engine, clip, reference, full_prompt, hf_compressed,
                                                           client):
    """Again with prefix caching on: the cached prefix covers the span, no sidecar call, the
    same tokens (the decoding delta survives without the span's rows)."""
    again = Run(engine, clip, reference, full_prompt, hf_compressed, client, mode="reference",
                label="vLLM chunked repeated")
    assert again.new_calls == 0 and again.cached > 0
    assert again.prompt_ids == run.prompt_ids and again.tokens == run.tokens
    again.check_positions()  # of the tail computed again
    again.check_rows()  # likewise
    again.check_greedy()  # on the cached rows rebuilt and the tail vLLM computed
