"""Qwen3-Omni with chunked prefill (64 tokens a step: the compressed span and its DeepStack
rows reach the model in slices) and prefix caching on."""

from __future__ import annotations

import pytest

from checks_qwen3 import qwen3_run, record_video_rows
from conftest import Engine

pytestmark = pytest.mark.vllm

BATCHED_TOKENS = 64


@pytest.fixture(scope="module")
def engine(q3_dir, sidecar):
    e = Engine(q3_dir, sidecar.url, {}, architecture="OmniZipQwen3OmniMoeThinker", enable_chunked_prefill=True,
               max_num_batched_tokens=BATCHED_TOKENS, enable_prefix_caching=True)
    yield record_video_rows(e)
    e.close()


@pytest.fixture(scope="module")
def run(engine, clip, q3_reference, q3_full, q3_compressed, client):
    r = qwen3_run(engine, clip, q3_reference, q3_full, q3_compressed, client, "vLLM Qwen3 chunked")
    assert r.new_calls == 1
    assert r.prefill["chunks"] >= len(r.prompt_ids) // BATCHED_TOKENS  # really chunked
    return r


def test_chunked_prompt_length(run):
    run.check_prompt_length()


def test_chunked_positions_equal_get_rope_index_sliced_by_keep_mask(run):
    run.check_positions()


def test_chunked_rows_equal_vllm_encoder_rows_in_prompt_layout(run):
    run.check_rows()


def test_chunked_deepstack_rows_follow_the_kept_video_rows(run):
    run.check_deepstack()


def test_chunked_greedy_tokens_equal_transformers_on_vllm_inputs(run):
    run.check_greedy()


def test_chunked_repeated_request_prefix_and_encoder_cache(run, engine, clip, q3_reference, q3_full, q3_compressed,
                                                           client):
    again = qwen3_run(engine, clip, q3_reference, q3_full, q3_compressed, client, "vLLM Qwen3 chunked repeated",
                    cached_from=run)
    assert again.new_calls == 0 and again.cached > 0
    assert again.prompt_ids == run.prompt_ids and again.tokens == run.tokens
    again.check_positions()
    again.check_rows()
    again.check_deepstack()
    again.check_greedy()
