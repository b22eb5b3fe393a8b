"""omnizip-vllm: OmniZip token compression (arXiv 2511.14582) for Qwen2.5-Omni and Qwen3-Omni in vLLM.

Installed, vLLM loads :func:`register` through the ``vllm.general_plugins`` entry point in
every process. Enable it per model with::

    vllm serve MODEL --hf-overrides '{"architectures": ["OmniZipQwen2_5OmniThinker"],
                                      "omnizip": {"url": "http://127.0.0.1:8080"}}'

(``OmniZipQwen3OmniMoeThinker`` for Qwen3-Omni; see README.md for the parameters).
"""

from .config import ARCHITECTURE, ARCHITECTURE_QWEN3, OmniZipConfig

__version__ = "0.1.0"
__all__ = ["ARCHITECTURE", "ARCHITECTURE_QWEN3", "OmniZipConfig", "register", "__version__"]


def register() -> None:
    """Register the architecture (imported lazily) and patch the CPU model runner."""
    from vllm import ModelRegistry

    from .runner_patch import patch_cpu_model_runner

    supported = ModelRegistry.get_supported_archs()
    if ARCHITECTURE not in supported:
        ModelRegistry.register_model(ARCHITECTURE, "omnizip_vllm.model:OmniZipQwen2_5OmniThinker")
    if ARCHITECTURE_QWEN3 not in supported:
        ModelRegistry.register_model(ARCHITECTURE_QWEN3, "omnizip_vllm.qwen3:OmniZipQwen3OmniMoeThinker")
    patch_cpu_model_runner()
