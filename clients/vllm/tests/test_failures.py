"""Failure behaviour that needs a whole engine: loading refuses a sidecar that is not there."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.vllm

SCRIPT = """
import json, sys
from vllm import LLM
LLM(model=sys.argv[1], hf_overrides=json.loads(sys.argv[2]), max_model_len=2048, enforce_eager=True,
    dtype="float32", limit_mm_per_prompt={"audio": 1, "video": 1, "image": 0})
print("LOADED")
"""


@pytest.mark.parametrize("architecture", ["OmniZipQwen2_5OmniThinker", "OmniZipQwen3OmniMoeThinker"])
def test_model_load_fails_when_sidecar_is_not_ready(request, architecture):
    """The model checks /readyz while loading: no sidecar, no engine, and the error names the URL."""
    model_dir = request.getfixturevalue("model_dir" if "Qwen2_5" in architecture else "q3_dir")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nobody listens
    overrides = {"architectures": [architecture], "omnizip": {"url": url, "startup_timeout": 1}}
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_ENABLE_V1_MULTIPROCESSING="0")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(model_dir), json.dumps(overrides)], env=env,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "LOADED" not in output
    assert f"OmniZip sidecar at {url}: not ready after 1 s" in output, output[-3000:]
