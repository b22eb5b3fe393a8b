"""Test helpers: locating things, running servers, reading golden cases, parity checks, the host's huge pages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

from omnizip_client import BF16Bits, CompressResult
from omnizip_client.codec import decode, float32_to_bf16_bits
from omnizip_client.local_server import LocalServer
from omnizip_client.local_server import find_binary as _find_binary

REPO = Path(__file__).resolve().parents[3]
_SHARED = REPO.parent / "shared" / "golden"
GOLDEN_DIR = _SHARED if _SHARED.is_dir() else REPO / "Tests" / "OmniZipTestSupport" / "Fixtures" / "golden"


#: --max-buffered-bytes of the tight test server.
TIGHT_BODY_MEMORY = 40_000_000  # above the largest golden request (17 MB), below three of them


def find_binary() -> Optional[str]:
    return _find_binary(REPO)


class ServerProcess(LocalServer):
    """The test servers: ``omnizip serve`` on 127.0.0.1, a free port, ready when constructed."""


# ---------------------------------------------------------------- golden cases


def golden_cases() -> List[str]:
    return sorted(p.name[: -len(".request.safetensors")] for p in GOLDEN_DIR.glob("*.request.safetensors"))


@dataclass
class Golden:
    name: str
    body: bytes
    request: Dict[str, np.ndarray]  # BF16 as raw uint16 bits
    request_dtypes: Dict[str, str]
    metadata: Dict[str, str]
    expected: Dict[str, np.ndarray]
    expected_metadata: Dict[str, str]

    @property
    def bf16(self) -> bool:
        return self.request_dtypes["inputs_embeds"] == "BF16"

    @property
    def embeds(self) -> Any:
        """inputs_embeds as the client takes it (BF16Bits for BF16 cases)."""
        e = self.request["inputs_embeds"]
        return BF16Bits(e.copy()) if self.bf16 else e.copy()

    def params(self) -> Dict[str, Any]:
        m = self.metadata
        return dict(rho_audio=float(m["rho_audio"]), rho_video=float(m["rho_video"]),
                    contextual_ratio=float(m["contextual_ratio"]), g=int(m["g"]),
                    audio_token_id=int(m["audio_token_id"]), video_token_id=int(m["video_token_id"]))

    def positions(self, which: str) -> np.ndarray:
        key = "audio_token_id" if which == "audio" else "video_token_id"
        return np.flatnonzero(self.request["input_ids"].reshape(-1) == int(self.metadata[key]))


_cache: Dict[str, Golden] = {}


def load_golden(name: str) -> Golden:
    if name not in _cache:
        body = (GOLDEN_DIR / f"{name}.request.safetensors").read_bytes()
        request, metadata, dtypes = decode(body, bf16="bits")
        expected, expected_metadata, _ = decode((GOLDEN_DIR / f"{name}.expected.safetensors").read_bytes())
        _cache[name] = Golden(name, body, request, dtypes, metadata, expected, expected_metadata)
    return _cache[name]


# ---------------------------------------------------------------- parity


def _ordered(bits: np.ndarray) -> np.ndarray:
    """BF16 bit patterns -> integers ordered like the values (for ulp distances)."""
    b = bits.astype(np.int32)
    return np.where(b & 0x8000, -(b & 0x7FFF), b & 0x7FFF)


def assert_merged_close(got: np.ndarray, expected: np.ndarray, bf16: bool) -> None:
    got = np.asarray(got, dtype=np.float32)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if bf16:
        got_bits = float32_to_bf16_bits(got)
        assert np.array_equal(got, (got_bits.astype(np.uint32) << 16).view(np.float32)), "response is not BF16-valued"
        want = float32_to_bf16_bits(expected.astype(np.float32))
        ulps = np.abs(_ordered(got_bits) - _ordered(want))
        assert ulps.max(initial=0) <= 1, f"BF16 merged_embeds differ by {ulps.max()} ulp"
    else:
        assert np.allclose(got, expected, atol=1e-5, rtol=1e-5), f"merged_embeds max abs diff {np.abs(got - expected).max()}"


def assert_parity(result: CompressResult, golden: Golden) -> None:
    """The golden README's parity rule, on a numpy-mode interleaved result."""
    exp = golden.expected
    assert result.layout == "interleaved"
    assert np.array_equal(np.asarray(result.keep_mask), exp["keep_mask"]), "keep_mask differs"
    assert np.array_equal(np.asarray(result.merged_index), exp["merged_index"]), "merged_index differs"
    assert np.array_equal(np.asarray(result.video_chunk_ratio), exp["video_chunk_ratio"]), "video_chunk_ratio differs"
    assert np.array_equal(np.asarray(result.audio_chunk_retention), exp["audio_chunk_retention"]), "audio_chunk_retention differs"
    assert_merged_close(np.asarray(result.merged_embeds), exp["merged_embeds"], golden.bf16)
    assert np.array_equal(np.asarray(result.kept_index), np.flatnonzero(exp["keep_mask"]))
    assert result.embeds_dtype == golden.request_dtypes["inputs_embeds"]
    c = result.counts
    assert c.total == exp["keep_mask"].size and c.kept == int(exp["keep_mask"].sum())
    assert c.merged == exp["merged_index"].size
    audio, video = golden.positions("audio"), golden.positions("video")
    assert (c.total_audio, c.kept_audio) == (audio.size, int(exp["keep_mask"][audio].sum()))
    assert (c.total_video, c.kept_video) == (video.size, int(exp["keep_mask"][video].sum()))
    if "total" in golden.expected_metadata:
        assert c.total == int(golden.expected_metadata["total"]) and c.kept == int(golden.expected_metadata["kept"])


def free_huge_pages() -> int:
    with open("/proc/meminfo") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("HugePages_Free:")), 0)


def needs_huge_pages() -> None:
    """Huge pages are the host's (vm.nr_hugepages): skipped without a free one, unless
    OMNIZIP_REQUIRE_HUGE_PAGES=1 (``make client-test`` as root reserves them) makes it a failure."""
    if free_huge_pages() == 0:
        reason = "no free huge page on this host (vm.nr_hugepages)"
        if os.environ.get("OMNIZIP_REQUIRE_HUGE_PAGES") == "1":
            pytest.fail(reason + "; OMNIZIP_REQUIRE_HUGE_PAGES=1 requires one", pytrace=False)
        pytest.skip(reason)
