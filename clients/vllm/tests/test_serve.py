"""`vllm serve` with the plugin answers an OpenAI chat request carrying a video with audio, for
each supported model (the tiny Qwen2.5-Omni and Qwen3-Omni)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from omnizip_client.budget import budget
from omnizip_vllm.positions import span_layout, span_layout_qwen3

import media
from conftest import METRICS
from hf_reference_qwen3 import PARAMS as QWEN3_PARAMS

pytestmark = pytest.mark.vllm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["qwen2.5-omni", "qwen3-omni"])
def served(request, model_dir):
    """The model served, its architecture, and how its span is laid out (1 s per temporal
    grid: the mp4 is 2 fps) and compressed by default."""
    if request.param == "qwen2.5-omni":
        return SimpleNamespace(name=request.param, dir=model_dir, architecture="OmniZipQwen2_5OmniThinker",
                               layout=lambda grid, audio: span_layout(grid, 1.0, audio), params={})
    return SimpleNamespace(name=request.param, dir=request.getfixturevalue("q3_dir"), architecture="OmniZipQwen3OmniMoeThinker",
                           layout=lambda grid, audio: span_layout_qwen3(grid, 1.0, audio), params=QWEN3_PARAMS)


@pytest.fixture(scope="module")
def own_sidecar(omnizip_bin, served):
    """The server's own sidecar: the last test stops it."""
    from omnizip_client.local_server import LocalServer

    server = LocalServer(omnizip_bin, "--workers", "2")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(served, own_sidecar, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    overrides = {"architectures": [served.architecture], "omnizip": {"url": own_sidecar.url}}
    command = [str(Path(sys.executable).parent / "vllm"), "serve", str(served.dir),
               "--hf-overrides", json.dumps(overrides), "--host", "127.0.0.1", "--port", str(port),
               "--dtype", "float32", "--max-model-len", "2048", "--max-num-seqs", "1", "--enforce-eager",
               "--limit-mm-per-prompt", json.dumps({"audio": 1, "video": 1, "image": 0}),
               "--trust-request-mm-kwargs"]  # the request's use_audio_in_video (README: vllm serve)
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", OMNIZIP_VLLM_STATS=str(tmp / "calls.jsonl"))
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # serve as deployed: engine core in its own process
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {proc.returncode}:\n{(tmp / 'serve.log').read_text()[-6000:]}")
            try:
                if httpx.get(url + "/health", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve not healthy in 300 s:\n{(tmp / 'serve.log').read_text()[-6000:]}")
            time.sleep(1)
        yield {"url": url, "tmp": tmp, "command": command}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def chat_body(server, model_dir):
    mp4, _ = media.write_mp4(server["tmp"] / "clip.mp4")
    video_url = "data:video/mp4;base64," + base64.b64encode(mp4.read_bytes()).decode()
    return {
        "model": str(model_dir),
        "messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": video_url}},
            {"type": "text", "text": "describe the video and the audio please"}]}],
        "max_tokens": 8, "temperature": 0.0,
        # vLLM then takes the video's audio track as the paired audio item
        "mm_processor_kwargs": {"use_audio_in_video": True},
    }


def test_serve_answers_chat_with_video_and_audio(server, served):
    body = chat_body(server, served.dir)
    r = httpx.post(server["url"] + "/v1/chat/completions", json=body, timeout=120, trust_env=False)
    log = (server["tmp"] / "serve.log").read_text(errors="replace")
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{log[-4000:]}"
    answer = r.json()
    assert isinstance(answer["choices"][0]["message"]["content"], str)
    assert answer["usage"]["completion_tokens"] >= 1

    calls = [json.loads(line) for line in (server["tmp"] / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 1, calls
    call = calls[0]
    assert "OmniZip: span" in log and call["request_id"] in log
    assert call["transport"] == "body" and "by body (request written in" in log  # a TCP sidecar: no memfd
    # the prompt vLLM served is the compressed one, sized by the exact budget
    assert call["kept_audio"] + call["kept_video"] == call["kept_span_tokens"] - 2
    per_frame = 140  # 112 x 168 frames scaled to >= 128*28*28 pixels: 20 x 28 patches
    layout = served.layout((call["total_video"] // per_frame, 20, 28), call["total_audio"])
    b = budget(*layout.runs(), per_frame, **served.params)
    assert (call["kept_audio"], call["kept_video"]) == (b.kept_audio, b.kept_video)
    prompt_tokens = answer["usage"]["prompt_tokens"]
    uncompressed = prompt_tokens - call["kept_span_tokens"] + call["span_tokens"]
    METRICS[f"vllm serve {served.name}: prompt tokens before -> after compression"] = (
        f"{uncompressed} -> {prompt_tokens}")
    METRICS[f"vllm serve {served.name}: sidecar call (wall, in vLLM) / server compress"] = (
        f"{call['sidecar_ms']:.1f} ms / {call['server_ms']} ms")


def test_serve_request_fails_clearly_when_sidecar_is_down(server, served, own_sidecar):
    """The request gets an error naming the sidecar; the server stays up."""
    url = own_sidecar.url
    own_sidecar.stop()
    r = httpx.post(server["url"] + "/v1/chat/completions", json=chat_body(server, served.dir), timeout=120,
                   trust_env=False)
    assert r.status_code >= 400 and url in r.text and "not ready" in r.text, r.text
    METRICS[f"vllm serve {served.name}, sidecar down"] = f"HTTP {r.status_code}: {r.json()['error']['message'][:150]}"
    assert httpx.get(server["url"] + "/health", timeout=5, trust_env=False).status_code == 200
