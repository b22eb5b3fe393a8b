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
def run(engine, clip, reference, full_prompt, hf_compressed):
    r = Run(engine, clip, reference, full_prompt, hf_compressed, mode="reference", label="vLLM chunked")
    assert r.new_calls == 1
    assert r.prefill["chunks"] >= len(r.prompt_ids) // BATCHED_TOKENS  # really chunked
    return r


def test_chunked_prompt_length(run):
    run.check_prompt_length()


def test_chunked_positions_equal_get_rope_index_sliced_by_keep_mask(run):
    run.check_positions()


def test_chunked_embeddings_equal_client_apply(run):
    run.check_embeddings()


def test_chunked_greedy_tokens_equal_transformers(run):
    run.check_greedy()


def test_chunked_repeated_request_prefix_and_encoder_cache(run, engine, clip, reference, full_prompt, hf_compressed):
    """Again with prefix caching on: the cached prefix covers the span, no sidecar call, the
    same tokens (the decoding delta survives without the span's rows)."""
    again = Run(engine, clip, reference, full_prompt, hf_compressed, mode="reference", label="vLLM chunked repeated")
    assert again.new_calls == 0 and again.cached > 0
    assert again.prompt_ids == run.prompt_ids and again.tokens == run.tokens
    again.check_positions()  # of the tail computed again
    again.check_greedy()
