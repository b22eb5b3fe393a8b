#!/usr/bin/env python3
"""Build a tiny random Qwen2.5-Omni checkpoint and its processor, offline.

    python tests/tiny_model.py OUT_DIR

Nothing comes from a model hub: the BPE tokenizer is trained here on a few sentences and
carries Qwen2.5-Omni's special tokens; the feature extractor (Whisper, 128 mel bins, 16 kHz)
and the Qwen2-VL image and video processors (14-px patches, 2x2 merge) are built from their
constructors. The thinker is Qwen2.5-Omni's architecture at toy size (2 text layers, hidden
128, 2 heads: head_dim 64, because vLLM's CPU attention refuses head_dim 16), with random
weights from a fixed seed, stored under ``thinker.`` like the real checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict

import tiny_parts

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
    "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>",
]

# Qwen2.5-Omni's chat template structure: content parts become the model's placeholders
# (vLLM sees the loop over message['content'] and passes media parts as parts).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] }}\n"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- elif part['type'] in ['image', 'image_url'] -%}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{%- elif part['type'] in ['video', 'video_url'] -%}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{%- elif part['type'] in ['audio', 'audio_url', 'input_audio'] -%}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "<|im_end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
)


def build(out: Path, seed: int = 0) -> Dict[str, int]:
    """Write the checkpoint to ``out``; returns the special token ids."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2_5OmniProcessor
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniConfig
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniThinkerForConditionalGeneration

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer, ids = tiny_parts.tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE, {
        "audio_token": "<|AUDIO|>", "image_token": "<|IMAGE|>", "video_token": "<|VIDEO|>",
        "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
        "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
    })
    processor = Qwen2_5OmniProcessor(**tiny_parts.media_processors(patch_size=14), tokenizer=tokenizer,
                                      chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(str(out))

    vocab = 512
    thinker = dict(
        audio_token_index=ids["<|AUDIO|>"], image_token_index=ids["<|IMAGE|>"], video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"], audio_end_token_id=ids["<|audio_eos|>"],
        vision_start_token_id=ids["<|vision_bos|>"], vision_end_token_id=ids["<|vision_eos|>"],
        user_token_id=ids["<|im_start|>"], bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"], initializer_range=0.02,
        text_config=dict(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=False, rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [8, 12, 12]}),
        audio_config=dict(d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128, output_dim=128,
                          num_mel_bins=128, n_window=100, max_source_positions=1500),
        vision_config=dict(depth=2, hidden_size=64, out_hidden_size=128, num_heads=4, intermediate_size=128,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[1],
                           window_size=112, in_channels=3, tokens_per_second=25),
    )
    config = Qwen2_5OmniConfig(thinker_config=thinker, enable_audio_output=False)
    config.architectures = ["Qwen2_5OmniModel"]
    torch.manual_seed(seed)
    model = Qwen2_5OmniThinkerForConditionalGeneration(config.thinker_config).eval()
    with torch.no_grad():
        # Larger text weights than the 0.02 init, so greedy decoding has clear winners
        # (comparisons between implementations must not hinge on 1e-6 logit ties).
        for name, p in model.model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.08)
        model.lm_head.weight.normal_(0.0, 0.3)
    state = {f"thinker.{k}": v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(str(out))
    (out / "special_ids.json").write_text(json.dumps(ids, indent=1))
    return ids


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_model.py OUT_DIR")
    print(json.dumps(build(Path(sys.argv[1]))))
