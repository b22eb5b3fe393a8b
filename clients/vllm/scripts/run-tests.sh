#!/usr/bin/env bash
# The plugin's test suite, in the venv setup-venv.sh built (run that first; `make test-vllm`
# does both).
#
#   bash clients/vllm/scripts/run-tests.sh [pytest args...]
#
# Needs the sidecar binary: $OMNIZIP_BIN, else <repo>/.build/release/omnizip (a missing binary
# or an unimportable vLLM fails the run; nothing is skipped). -v prints every check by name;
# the "omnizip-vllm figures" section at the end gives the prompt lengths before and after
# compression and the time vLLM spent in the sidecar call.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/.." && pwd)"
repo="$(cd "$plugin/../.." && pwd)"
venv="${OMNIZIP_VLLM_VENV:-$repo/.venv-vllm}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "run-tests.sh: no venv at $venv; run clients/vllm/scripts/setup-venv.sh first" >&2
    exit 2
fi
# Absolute, because pytest runs from clients/vllm.
export OMNIZIP_BIN="$(realpath -m "${OMNIZIP_BIN:-$repo/.build/release/omnizip}")"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"

cd "$plugin"
status=0
"$venv/bin/python" -m pytest -v -p no:cacheprovider "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "run-tests.sh: pytest collected no tests" >&2
fi
exit $status
