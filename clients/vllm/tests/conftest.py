"""Shared fixtures: the tiny checkpoint, the sidecar, the transformers reference, vLLM engines.

Engines run in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0) so tests can look at the
model object: the sidecar calls it made and, through a forward pre-hook on the language
model, the embeddings and positions that reached it. One engine is built per test module
(about 25 s each) and torn down before the next.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))

# Fail, never skip, when what the suite needs is missing: CI must not go green without it.
try:
    import importlib

    import torch

    importlib.import_module("vllm")
    from omnizip_client import Client
    from omnizip_client.local_server import LocalServer, find_binary
except Exception as exc:  # pragma: no cover - the message is the point
    raise pytest.UsageError(f"the vLLM test suite needs vllm-cpu, torch and omnizip-client importable "
                            f"(run clients/vllm/scripts/setup-venv.sh): {exc!r}")

import media  # noqa: E402
import tiny_model  # noqa: E402

#: Figures the tests measured, printed at the end of the run (pytest_terminal_summary).
METRICS: Dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if METRICS:
        terminalreporter.section("omnizip-vllm figures")
        for key, value in METRICS.items():
            terminalreporter.write_line(f"{key}: {value}")


ENGINE_DEFAULTS: Dict[str, Any] = dict(
    max_model_len=2048, max_num_seqs=1, enforce_eager=True, dtype="float32", seed=0,
    limit_mm_per_prompt={"audio": 1, "video": 1, "image": 0},
)


@pytest.fixture(scope="session")
def omnizip_bin() -> str:
    binary = find_binary(REPO)
    if binary is None:
        pytest.fail(f"no omnizip binary: set OMNIZIP_BIN or build {REPO}/.build/release/omnizip (make release)")
    import subprocess

    help_text = subprocess.run([binary, "compress", "--help"], capture_output=True, text=True).stdout
    if "--video-budget" not in help_text:
        pytest.fail(f"{binary} has no --video-budget (the plugin needs video_budget=exact): rebuild it")
    return binary


@pytest.fixture(scope="session")
def sidecar(omnizip_bin: str) -> Iterator[LocalServer]:
    with LocalServer(omnizip_bin, "--workers", "2") as server:
        yield server


@pytest.fixture(scope="session")
def client(sidecar: LocalServer) -> Iterator[Client]:
    with Client(sidecar.url) as c:
        yield c


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-qwen2.5-omni")
    tiny_model.build(out)
    return out


@pytest.fixture(scope="session")
def reference(model_dir: Path):
    from hf_reference import HFReference

    return HFReference(model_dir)


@pytest.fixture(scope="session")
def q3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tiny_qwen3_model

    out = tmp_path_factory.mktemp("tiny-qwen3-omni")
    tiny_qwen3_model.build(out)
    return out


@pytest.fixture(scope="session")
def q3_reference(q3_dir: Path):
    from hf_reference_qwen3 import HFReferenceQwen3

    return HFReferenceQwen3(q3_dir)


@pytest.fixture(scope="session")
def q3_full(q3_reference, clip):
    """The uncompressed Qwen3-Omni prompt as the reference builds it (transformers, float32)."""
    return q3_reference.prompt(clip["audio"], clip["frames"])


@pytest.fixture(scope="session")
def q3_compressed(q3_reference, q3_full, client):
    return q3_reference.compress(client, q3_full)


@pytest.fixture(scope="session")
def clip():
    frames = media.frames()
    return {"audio": media.audio(), "frames": frames}


@pytest.fixture(scope="session")
def full_prompt(reference, clip):
    """The uncompressed prompt as the reference builds it (transformers, float32)."""
    return reference.prompt(clip["audio"], clip["frames"])


@pytest.fixture(scope="session")
def hf_compressed(reference, full_prompt, client):
    """The reference's compressed prefill inputs: sidecar answer + omnizip_client.apply."""
    return reference.compress(client, full_prompt)


def vllm_request(clip: Dict[str, Any]) -> Dict[str, Any]:
    frames = clip["frames"]
    return {"prompt": media.PROMPT,
            "multi_modal_data": {"video": (frames, media.video_metadata(len(frames))),
                                 "audio": (clip["audio"], media.SAMPLE_RATE)},
            "mm_processor_kwargs": {"use_audio_in_video": True}}


@dataclass
class SidecarCall:
    """What the plugin sent to the sidecar for one span, and what it got back."""

    audio: torch.Tensor  # [Na, D] the audio tower's rows
    video: torch.Tensor  # [Nv, D] the vision tower's rows
    scores: torch.Tensor  # [Na]
    grid_thw: List[int]
    audio_runs: List[int]
    video_runs: List[int]
    params: Dict[str, Any]
    result: Any  # omnizip_client.CompressResult (split layout)


class SidecarRecorder:
    """Wraps ``omnizip_vllm.thinker.compress_split`` while an engine lives and keeps copies of
    every call's tensors and answer. model.py calls it by its module-global name and the
    engines run in this process, so the plugin itself needs no test hook (and production
    keeps nothing). A plugin that stopped calling it through that name would leave
    ``calls`` empty, and the checks fail on that rather than pass."""

    def __init__(self) -> None:
        import omnizip_vllm.thinker as model

        self.calls: List[SidecarCall] = []
        self._module, self._original = model, model.compress_split
        model.compress_split = self._record

    def _record(self, client: Any, audio: torch.Tensor, video: torch.Tensor, scores: torch.Tensor, grid_thw: Any,
                audio_runs: Any, video_runs: Any, params: Dict[str, Any]):
        result, elapsed_ms = self._original(client, audio, video, scores, grid_thw, audio_runs, video_runs, params)
        self.calls.append(SidecarCall(audio.detach().clone(), video.detach().clone(), scores.detach().clone(),
                                      list(grid_thw), list(audio_runs), list(video_runs), dict(params), result))
        return result, elapsed_ms

    def close(self) -> None:
        self._module.compress_split = self._original


class Engine:
    """An in-process LLM with the plugin, what it sent to the sidecar, and what its language
    model saw."""

    def __init__(self, model_dir: Path, url: str, omnizip: Dict[str, Any],
                 architecture: str = "OmniZipQwen2_5OmniThinker", **engine_args: Any) -> None:
        from vllm import LLM

        self.recorder = SidecarRecorder()
        args = dict(ENGINE_DEFAULTS, **engine_args)
        try:
            self.llm = LLM(model=str(model_dir), hf_overrides={"architectures": [architecture],
                                                               "omnizip": dict(url=url, **omnizip)}, **args)
        except BaseException:
            self.recorder.close()
            raise
        self.model = self.llm.apply_model(lambda model: model)[0]  # in-process: the object itself
        self.forwards: List[Dict[str, torch.Tensor]] = []
        # On the thinker: the runner calls it like a module (its language model is wrapped for
        # torch.compile and skips module hooks).
        self.model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module: Any, args: tuple, kwargs: dict) -> None:
        positions = args[1] if len(args) > 1 else kwargs.get("positions")
        embeds = args[3] if len(args) > 3 else kwargs.get("inputs_embeds")
        record = {"positions": positions.detach().clone(),
                  "inputs_embeds": None if embeds is None else embeds.detach().clone()}
        deepstack = getattr(module, "deepstack_input_embeds", None)  # Qwen3-Omni: set for this step
        if deepstack and embeds is not None:
            record["deepstack"] = torch.stack([level[:embeds.shape[0]].detach().clone() for level in deepstack])
        self.forwards.append(record)

    def generate(self, request: Dict[str, Any], max_tokens: int = 8):
        """Greedy; with the two best raw logprobs of every step (their gap is the logit gap)."""
        from vllm import SamplingParams

        self.forwards.clear()
        params = SamplingParams(max_tokens=max_tokens, temperature=0.0, logprobs=2)
        return self.llm.generate(request, params, use_tqdm=False)[0]

    def prefill(self, prompt_len: int) -> Dict[str, torch.Tensor]:
        """Positions [3, K] and embeddings [K, D] of the prompt, joined across prefill chunks."""
        positions, embeds, deepstack, seen = [], [], [], 0
        for f in self.forwards:
            if seen >= prompt_len:
                break
            n = min(f["positions"].shape[-1], prompt_len - seen)
            positions.append(f["positions"][..., :n])
            embeds.append(f["inputs_embeds"][:n])
            if "deepstack" in f:
                deepstack.append(f["deepstack"][:, :n])
            seen += n
        assert seen == prompt_len, f"recorded {seen} prefill tokens, the prompt has {prompt_len}"
        out = {"positions": torch.cat(positions, dim=-1), "inputs_embeds": torch.cat(embeds), "chunks": len(positions)}
        if deepstack:
            out["deepstack"] = torch.cat(deepstack, dim=1)
        return out

    def decode_positions(self, prompt_len: int) -> List[int]:
        """Position (all three axes) of each token fed after the prefill."""
        out, seen = [], 0
        for f in self.forwards:
            n = f["positions"].shape[-1]
            if seen >= prompt_len:
                p = f["positions"].reshape(3, -1)[:, 0]
                assert p.eq(p[0]).all(), p
                out.append(int(p[0]))
            seen += n
        return out

    def close(self) -> None:
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        self.recorder.close()
        self.llm.llm_engine.engine_core.shutdown()
        del self.model, self.llm
        gc.collect()
        cleanup_dist_env_and_memory()
