"""Requests written into sealed memfds (no server): the bytes codec.encode gives, sealed, exact size."""

from __future__ import annotations

import errno
import fcntl
import os
from typing import Any, Callable, Dict

import numpy as np
import pytest

from helpers import free_huge_pages, golden_cases, load_golden, needs_huge_pages

from omnizip_client import BF16Bits, _memfd
from omnizip_client._protocol import prepare_compress
from omnizip_client.codec import encode, float32_to_bf16_bits, layout


def contents(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size + 1, 0)  # one more than the size: nothing past the end


def assert_sealed_request(fd: int, expected: bytes) -> None:
    assert os.fstat(fd).st_size == len(expected)
    assert contents(fd) == expected
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) == _memfd.SEALS
    assert os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:omnizip-request")
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


RNG = np.random.default_rng(7)
F32 = RNG.standard_normal((33, 24)).astype(np.float32)

NUMPY_CASES: Dict[str, Callable[[], Dict[str, Any]]] = {
    "f32": lambda: {"inputs_embeds": F32, "input_ids": np.arange(33, dtype=np.int64)},
    "f16": lambda: {"inputs_embeds": F32.astype(np.float16), "audio_scores": F32[0]},
    "bf16": lambda: {"inputs_embeds": BF16Bits(float32_to_bf16_bits(F32)), "video_grid_thw": np.array([[1, 2, 2]])},
    "int64+bool": lambda: {"input_ids": np.arange(-5, 40, dtype=np.int64), "keep": F32[:, 0] > 0},
    # Strided and byte-swapped sources go through the mapping (np.copyto), not pwrite.
    "strided": lambda: {"inputs_embeds": F32[::2, 1::3], "bf16": BF16Bits(float32_to_bf16_bits(F32))[:, ::2],
                        "ids": np.arange(20)[::3]},
    "big-endian": lambda: {"inputs_embeds": F32.astype(">f4"), "ids": np.arange(9, dtype=">i8")},
    "empty+scalar": lambda: {"audio_embeds": np.zeros((0, 24), np.float32), "s": np.float64(2.5), "one": np.ones(1, np.int8)},
}


@pytest.mark.parametrize("metadata", [None, {"rho_audio": "0.3", "note": "x" * 13}])
@pytest.mark.parametrize("case", sorted(NUMPY_CASES))
def test_numpy_request_in_a_memfd_equals_encode(case: str, metadata: Any) -> None:
    tensors = NUMPY_CASES[case]()
    fd = _memfd.from_layout(layout(tensors, metadata))
    try:
        assert_sealed_request(fd, encode(tensors, metadata))
    finally:
        os.close(fd)


@pytest.mark.parametrize("name", [golden_cases()[0], "public-bf16-b"])
def test_a_prepared_compress_request_in_a_memfd_equals_its_body(name: str) -> None:
    g = load_golden(name)
    r = g.request

    def prepared() -> Any:
        return prepare_compress(inputs_embeds=g.embeds, input_ids=r["input_ids"], audio_scores=r["audio_scores"],
                                video_grid_thw=r["video_grid_thw"], params={}, return_embeds=False, request_id=None)

    prep = prepared()
    fd = prep.memfd()
    try:
        assert_sealed_request(fd, prepared().content)
        assert prep.raw is None, "the memfd was written from the tensors, not from an encoded body"
        assert prep.timings["encode_ms"] >= 0 and prep.timings["encode_cpu_ms"] >= 0
    finally:
        os.close(fd)


def test_bytes_in_a_memfd() -> None:
    body = load_golden(golden_cases()[0]).body
    fd = _memfd.from_bytes(body)
    try:
        assert_sealed_request(fd, body)
    finally:
        os.close(fd)


def test_a_sealed_memfd_cannot_change() -> None:
    fd = _memfd.from_bytes(b"x" * 4096)
    try:
        for attempt in (lambda: os.pwrite(fd, b"y", 0), lambda: os.ftruncate(fd, 1), lambda: os.ftruncate(fd, 8192),
                        lambda: fcntl.fcntl(fd, fcntl.F_ADD_SEALS, 0)):
            with pytest.raises(PermissionError):
                attempt()
    finally:
        os.close(fd)


def test_a_failed_write_closes_the_memfd(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> None:
        raise OSError(errno.ENOSPC, "no space")

    before = fd_count()
    monkeypatch.setattr(_memfd, "_pwrite_all", fail)
    with pytest.raises(OSError, match="no space"):
        _memfd.from_layout(layout({"x": F32}))
    monkeypatch.undo()
    monkeypatch.setattr(np, "copyto", fail)
    with pytest.raises(OSError, match="no space"):  # in the mapping: unmapped and closed
        _memfd.from_layout(layout({"x": F32[:, ::2]}))
    assert fd_count() == before


# ---------------------------------------------------------------- torch


def _torch() -> Any:
    return pytest.importorskip("torch", reason="torch is not installed (optional; the tests never install it)")


TORCH_DTYPES = ["float32", "float16", "bfloat16", "int64", "bool"]


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided"])
@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_torch_request_in_a_memfd_equals_encode(dtype: str, strided: bool) -> None:
    """Contiguous CPU tensors are pwrite-n; strided ones are copy_-ed into the mapping (the way a
    CUDA tensor goes)."""
    torch = _torch()
    values = torch.from_numpy(F32) * 9
    t = (values > 0) if dtype == "bool" else values.to(getattr(torch, dtype))
    if strided:
        t = t.t()
    tensors = {"inputs_embeds": t, "input_ids": torch.arange(5), "audio_scores": torch.ones(3), "np": np.arange(4)}
    fd = _memfd.from_layout(layout(tensors, {"k": "v"}))
    try:
        assert_sealed_request(fd, encode(tensors, {"k": "v"}))
    finally:
        os.close(fd)


def test_torch_split_request_equals_its_body() -> None:
    torch = _torch()
    audio, video = torch.randn(6, 8).to(torch.bfloat16), torch.randn(4, 16).to(torch.bfloat16)[:, ::2]

    def prepared() -> Any:
        return prepare_compress(audio_embeds=audio, video_embeds=video, audio_scores=torch.ones(6),
                                video_grid_thw=[1, 4, 4], params={}, return_embeds=False, request_id=None)

    fd = prepared().memfd()
    try:
        assert_sealed_request(fd, prepared().content)
    finally:
        os.close(fd)


def test_a_failed_torch_copy_unmaps_and_closes() -> None:
    """A tensor whose copy fails in the mapping (a meta tensor has no data): that error, and
    neither the memfd nor the mapping outlives it."""
    torch = _torch()
    before = fd_count()
    with pytest.raises(NotImplementedError, match="meta"):
        _memfd.from_layout(layout({"x": torch.empty(4, 4, device="meta")}))
    assert fd_count() == before


# ---------------------------------------------------------------- huge pages


def assert_huge_request(fd: int, expected: bytes) -> None:
    """Sealed, a whole number of huge pages, the request at the start and zeros after it."""
    info = os.fstat(fd)
    assert info.st_blksize > 4096 and info.st_size % info.st_blksize == 0
    assert info.st_size - info.st_blksize < len(expected) <= info.st_size
    assert contents(fd) == expected + bytes(info.st_size - len(expected))
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) == _memfd.SEALS
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC


@pytest.mark.parametrize("case", sorted(NUMPY_CASES))
def test_numpy_request_in_huge_pages_equals_encode(case: str) -> None:
    needs_huge_pages()
    tensors = NUMPY_CASES[case]()
    fd, huge = _memfd.write(layout(tensors, {"k": "v"}), huge_pages=True)
    try:
        assert huge
        assert_huge_request(fd, encode(tensors, {"k": "v"}))
    finally:
        os.close(fd)


def test_bytes_in_huge_pages() -> None:
    needs_huge_pages()
    body = load_golden(golden_cases()[0]).body
    fd, huge = _memfd.write(body, huge_pages=True)
    try:
        assert huge
        assert_huge_request(fd, body)
    finally:
        os.close(fd)


def test_torch_request_in_huge_pages_equals_encode() -> None:
    torch = _torch()
    needs_huge_pages()
    tensors = {"inputs_embeds": (torch.from_numpy(F32) * 9).to(torch.bfloat16).t(), "ids": torch.arange(5),
               "scores": torch.ones(3)}
    fd, huge = _memfd.write(layout(tensors), huge_pages=True)
    try:
        assert huge
        assert_huge_request(fd, encode(tensors))
    finally:
        os.close(fd)


def test_without_huge_pages_the_request_goes_in_4k_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a huge page cannot be had (here: the populating madvise refused, as on a kernel
    before 5.14 or an exhausted pool), the same request in an ordinary memfd, nothing leaked."""
    monkeypatch.setattr(_memfd, "MADV_POPULATE_WRITE", -1)  # EINVAL
    tensors = NUMPY_CASES["f32"]()
    before = fd_count()
    fd, huge = _memfd.write(layout(tensors), huge_pages=True)
    try:
        assert not huge
        assert_sealed_request(fd, encode(tensors))
    finally:
        os.close(fd)
    assert fd_count() == before
    fd, huge = _memfd.write(layout(tensors), huge_pages=False)
    os.close(fd)
    assert not huge


def test_a_failed_copy_into_huge_pages_closes_the_memfd(monkeypatch: pytest.MonkeyPatch) -> None:
    needs_huge_pages()

    def fail(*args: Any) -> None:
        raise OSError(errno.ENOSPC, "no space")

    before, free = fd_count(), free_huge_pages()
    monkeypatch.setattr(np, "copyto", fail)
    with pytest.raises(OSError, match="no space"):
        _memfd.write(layout({"x": F32}), huge_pages=True)
    assert fd_count() == before and free_huge_pages() == free
