"""transformers (CPU, float32): the reference's flow on the tiny checkpoint with the client."""

from __future__ import annotations

import torch
from omnizip_client.budget import budget
from omnizip_vllm.scores import audio_scores, eager_audio_scores

from conftest import METRICS


def test_thinker_forward_with_client_apply(reference, full_prompt, hf_compressed):
    """The thinker's forward on a real audio-in-video prompt compressed by the sidecar and
    sliced by omnizip_client.apply: text + K_a + K* tokens, original positions, anchors in."""
    p, c = full_prompt, hf_compressed
    cfg = reference.config
    ids = p.input_ids[0]
    n_audio = int((ids == cfg.audio_token_id).sum())
    n_video = int((ids == cfg.video_token_id).sum())
    text = p.length - n_audio - n_video
    grid = p.video_grid_thw[0].tolist()
    per_frame = (grid[1] // 2) * (grid[2] // 2)
    expected = budget([50] * 4, [2 * per_frame] * 4, per_frame)  # 4 chunks of 2 s: 50 audio, 2 frames
    assert (n_audio, n_video) == (expected.total_audio, expected.total_video)
    assert c.length == text + expected.kept_audio + expected.video_target + expected.short_video

    keep = torch.as_tensor(c.result.keep_mask, dtype=torch.bool)
    assert torch.equal(c.position_ids, p.position_ids[:, :, keep])  # kept tokens keep their positions
    slots = torch.searchsorted(keep.nonzero().flatten(), torch.as_tensor(c.result.merged_index))
    assert len(slots) > 0 and torch.equal(c.inputs_embeds[0, slots], torch.as_tensor(c.result.merged_embeds))

    logits = reference.logits(c)
    assert logits.shape == (1, c.length, cfg.text_config.vocab_size) and torch.isfinite(logits).all()
    METRICS["transformers prompt tokens (uncompressed -> compressed)"] = f"{p.length} -> {c.length}"


def test_hook_scores_equal_eager_formula(reference, clip):
    """Scores from the q_proj/k_proj hooks (blocked softmax) equal the literal formula on Q and
    K recomputed independently from the last layer's input."""
    m = reference.model
    last = m.audio_tower.layers[-1]
    seen = {}
    handle = last.register_forward_pre_hook(lambda mod, args: seen.__setitem__("hidden", args[0].detach()))
    inp = reference.processed(clip["audio"], clip["frames"])
    try:
        with torch.no_grad(), reference.capture:
            m.get_audio_features(inp["input_features"], inp["feature_attention_mask"])
    finally:
        handle.remove()
    q_hook, k_hook = reference.capture.take()
    frames, _ = m.audio_tower._get_feat_extract_output_lengths(inp["feature_attention_mask"].sum(-1))
    heads = reference.capture.num_heads

    with torch.no_grad():
        x = last.self_attn_layer_norm(seen["hidden"])
        q, k = last.self_attn.q_proj(x), last.self_attn.k_proj(x)
    eager = eager_audio_scores(q, k, heads)[0]
    for block in (1024, 7):
        hooked = audio_scores(q_hook, k_hook, heads, frames.tolist(), block=block)[0]
        assert hooked.shape == eager.shape == (int(frames[0]) // 2,)
        torch.testing.assert_close(hooked, eager, rtol=1e-5, atol=1e-6)
