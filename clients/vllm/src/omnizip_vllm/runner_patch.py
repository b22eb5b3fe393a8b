"""vLLM's CPU model runner never enables multimodal pruning; this turns it on like the GPU one.

``GPUModelRunner.load_model`` sets ``is_multimodal_pruning_enabled`` (then the runner calls
the model's ``recompute_mrope_positions`` with the gathered encoder outputs). The CPU runner
(``CPUModelRunner``, a subclass) overrides ``load_model`` and never sets it, so on CPU a
pruning model's position channels reach the language model (vLLM 0.32/0.33; this also
affects EVS). The patch computes the flag after loading exactly as the GPU runner does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_cpu_model_runner"]


def patch_cpu_model_runner() -> bool:
    """Idempotent; False when vLLM has no CPU runner to patch."""
    try:
        from vllm.model_executor.models.interfaces import supports_multimodal_pruning
        from vllm.v1.worker.cpu_model_runner import CPUModelRunner
    except Exception:  # no CPU runner in this vLLM build
        return False
    if getattr(CPUModelRunner.load_model, "_omnizip_patched", False):
        return True
    original = CPUModelRunner.load_model

    def load_model(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        mm_config = self.model_config.multimodal_config
        self.is_multimodal_pruning_enabled = bool(
            supports_multimodal_pruning(self.get_model())
            and mm_config is not None
            and mm_config.is_multimodal_pruning_enabled()
        )

    load_model._omnizip_patched = True  # type: ignore[attr-defined]
    CPUModelRunner.load_model = load_model  # type: ignore[method-assign]
    return True
