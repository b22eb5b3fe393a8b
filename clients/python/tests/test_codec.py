"""The numpy safetensors writer/reader agrees with the safetensors package."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from omnizip_client import BF16Bits
from omnizip_client.codec import bf16_bits_to_float32, decode, decode_header, encode, float32_to_bf16_bits


def test_writer_is_read_by_safetensors(tmp_path) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "inputs_embeds": rng.standard_normal((7, 5)).astype(np.float32),
        "input_ids": np.arange(7, dtype=np.int64),
        "half": rng.standard_normal(3).astype(np.float16),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    body = encode(tensors, {"rho_audio": "0.3"})
    header_len = int.from_bytes(body[:8], "little")
    assert header_len % 8 == 0  # data section aligned
    loaded = st_load(body)
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and np.array_equal(loaded[k], v), k
    path = tmp_path / "x.safetensors"
    path.write_bytes(body)
    with safe_open(str(path), "np") as f:
        assert f.metadata() == {"rho_audio": "0.3"}


def test_reader_reads_safetensors_output() -> None:
    tensors = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.array([1, -2], dtype=np.int32)}
    arrays, metadata, dtypes = decode(st_save(tensors, metadata={"k": "v"}))
    assert metadata == {"k": "v"} and dtypes == {"a": "F64", "b": "I32"}
    for k, v in tensors.items():
        assert np.array_equal(arrays[k], v)
        assert arrays[k].flags.writeable


def test_bf16_round_trip() -> None:
    values = np.array([[1.0, -2.5, 3.140625], [0.0, 1e-3, -65280.0]], dtype=np.float32)
    bits = float32_to_bf16_bits(values)
    body = encode({"x": BF16Bits(bits)})
    raw, _, dtypes = decode(body, bf16="bits")
    assert dtypes["x"] == "BF16" and np.array_equal(raw["x"], bits)
    widened, _, _ = decode(body)
    assert widened["x"].dtype == np.float32
    assert np.array_equal(widened["x"], bf16_bits_to_float32(bits))
    assert widened["x"][0].tolist() == [1.0, -2.5, 3.140625]


def test_bf16_rounding_is_nearest_even() -> None:
    # 1 + 2^-8 is halfway between two BF16 values: ties go to the even one (1.0).
    assert bf16_bits_to_float32(float32_to_bf16_bits(np.float32([1 + 2**-8])))[0] == 1.0
    assert bf16_bits_to_float32(float32_to_bf16_bits(np.float32([1 + 3 * 2**-8])))[0] == 1 + 2**-6
    assert np.isnan(bf16_bits_to_float32(float32_to_bf16_bits(np.float32([np.nan])))[0])


@pytest.mark.parametrize("body", [b"", b"\x01", b"\xff" * 8 + b"{}", b"\x02\x00\x00\x00\x00\x00\x00\x00[]",
                                  b"\x04\x00\x00\x00\x00\x00\x00\x00{\"a\"", b"\x02\x00\x00\x00\x00\x00\x00\x00\xff\xfe"])
def test_reader_rejects_garbage(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode(body)


def test_reader_accepts_an_empty_file() -> None:
    assert decode(b"\x02\x00\x00\x00\x00\x00\x00\x00{}") == ({}, {}, {})


def test_reader_rejects_bad_offsets() -> None:
    header = b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}'
    body = len(header).to_bytes(8, "little") + header + b"\x00" * 8
    with pytest.raises(ValueError, match="inconsistent"):
        decode(body)


def _data_order(body: bytes) -> list:
    entries, _, _ = decode_header(body)
    return [name for name, _ in sorted(entries.items(), key=lambda kv: kv[1]["data_offsets"][0])]


@pytest.mark.parametrize("embed_dtype", [np.float32, "bf16"])
@pytest.mark.parametrize("layout", ["interleaved", "split"])
def test_requests_put_the_embeddings_last(layout: str, embed_dtype) -> None:
    """The server starts compressing once everything but the embeddings is in."""
    from omnizip_client._protocol import prepare_compress

    rng = np.random.default_rng(1)

    def embeds(n: int):
        x = rng.standard_normal((n, 8)).astype(np.float32)
        return BF16Bits(float32_to_bf16_bits(x)) if embed_dtype == "bf16" else x

    common = dict(audio_scores=np.ones(4, dtype=np.float32), video_grid_thw=[1, 4, 4], params={}, return_embeds=False, request_id=None)
    if layout == "interleaved":
        ids = np.array([151646] * 4 + [151656] * 4, dtype=np.int64)
        prepared = prepare_compress(inputs_embeds=embeds(8), input_ids=ids, **common)
        embedding_names = {"inputs_embeds"}
    else:
        prepared = prepare_compress(audio_embeds=embeds(4), video_embeds=embeds(4), **common)
        embedding_names = {"audio_embeds", "video_embeds"}
    order = _data_order(prepared.content)
    assert set(order[-len(embedding_names) :]) == embedding_names, order
