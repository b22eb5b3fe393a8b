"""The examples run against the test server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import GOLDEN_DIR, assert_parity, load_golden

from omnizip_client.codec import decode

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_curl_equivalent(server: Any, tmp_path: Path) -> None:
    name = "public-bf16-b"
    out = tmp_path / "response.safetensors"
    text = _run(str(EXAMPLES / "curl_equivalent.py"), str(GOLDEN_DIR / f"{name}.request.safetensors"),
                "--url", server.url, "-o", str(out))
    assert "curl -sS" in text and "kept 310 of 667" in text
    tensors, metadata, _ = decode(out.read_bytes())
    golden = load_golden(name)
    assert (tensors["keep_mask"] == golden.expected["keep_mask"]).all() and metadata["kept"] == "310"


def test_integration_demo(server: Any) -> None:
    text = _run(str(EXAMPLES / "qwen2_5_omni_integration.py"), "--url", server.url)
    assert "all integration checks passed" in text


def test_qwen3_integration_demo(server: Any) -> None:
    text = _run(str(EXAMPLES / "qwen3_omni_integration.py"), "--url", server.url)
    assert "all integration checks passed" in text and "8 one-grid runs" in text


def test_parity_helper_is_strict(client: Any) -> None:
    """Guard against a parity check that passes anything: a flipped mask must fail it."""
    import pytest

    golden = load_golden("public-ties")
    result = client.compress_bytes(golden.body)
    result.keep_mask = result.keep_mask.copy()
    result.keep_mask[0] = not result.keep_mask[0]
    with pytest.raises(AssertionError):
        assert_parity(result, golden)
