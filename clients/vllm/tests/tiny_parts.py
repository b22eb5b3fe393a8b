"""What the tiny Qwen2.5-Omni and Qwen3-Omni builders share: a BPE tokenizer trained here on a
few sentences (nothing from a model hub) and the media processors built from their
constructors."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

CORPUS = [
    "describe the video and the audio please",
    "what is happening in this clip and what do you hear",
    "the quick brown fox jumps over the lazy dog",
    "hello world, this is a tiny model for tests",
    "user assistant system answer question",
]


def tokenizer(special_tokens: List[str], chat_template: str, media_tokens: Dict[str, str]) -> Tuple[Any, Dict[str, int]]:
    """A byte-level BPE tokenizer with the model's special tokens (``media_tokens``: the
    processor's attribute names, ``audio_token`` ..., to the token strings); and the ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS * 20, trainers.BpeTrainer(
        vocab_size=420, special_tokens=special_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   extra_special_tokens=media_tokens)
    fast.chat_template = chat_template
    return fast, {t: fast.convert_tokens_to_ids(t) for t in special_tokens}


def media_processors(patch_size: int) -> Dict[str, Any]:
    """Image and video processors with ``patch_size``-px patches and a 2x2 merge (4 to 64 merged
    tokens per frame; transformers 5 reads ``size``, not min/max_pixels), and Whisper's feature
    extractor (128 mel bins, 16 kHz)."""
    from transformers import Qwen2VLImageProcessor, WhisperFeatureExtractor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    unit = 2 * patch_size
    pixels = dict(size={"shortest_edge": unit * unit * 4, "longest_edge": unit * unit * 64}, patch_size=patch_size,
                  merge_size=2, temporal_patch_size=2)
    return dict(image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
                feature_extractor=WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, hop_length=160,
                                                          chunk_length=300, n_fft=400, return_attention_mask=True))
