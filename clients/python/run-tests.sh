#!/usr/bin/env bash
# Tests of the Python client against a real `omnizip serve` (started and stopped by pytest).
#
#   bash clients/python/run-tests.sh [pytest args...]
#
# Makes a fresh venv (OMNIZIP_CLIENT_VENV, default <repo>/.venv-client), installs the client
# with its test extra from PyPI, and runs pytest. Needs the server binary: $OMNIZIP_BIN, else
# <repo>/.build/release/omnizip, else <repo>/.build/debug/omnizip (build it first). Exits
# non-zero on any failure, and also when no test passed (pytest exits 5 when it collects
# none; conftest.py turns "everything skipped" into a failure).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${OMNIZIP_CLIENT_VENV:-$repo/.venv-client}"
python="${PYTHON:-python3}"

if [[ -z "${OMNIZIP_BIN:-}" && ! -x "$repo/.build/release/omnizip" && ! -x "$repo/.build/debug/omnizip" ]]; then
    echo "run-tests.sh: no omnizip binary; run 'swift build -c release' in $repo or set OMNIZIP_BIN" >&2
    exit 2
fi

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[test]"
# torch is optional and huge; where the machine image carries a CPU wheel, use it so the
# torch-tensor tests (BF16 in and out) run too. Nothing is downloaded for it.
wheels="${OMNIZIP_TORCH_WHEELS:-/opt/wheels}"
torch_wheel=$(ls "$wheels"/torch-*.whl 2>/dev/null | head -n 1 || true)
if [[ -n "$torch_wheel" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$torch_wheel" \
        || echo "run-tests.sh: could not install $torch_wheel; torch tests will be skipped" >&2
fi

cd "$here"
status=0
# The binary built from this repository takes memfd bodies: its native cases may not skip.
export OMNIZIP_REQUIRE_NATIVE_MEMFD="${OMNIZIP_REQUIRE_NATIVE_MEMFD:-1}"
"$venv/bin/python" -m pytest -p no:cacheprovider "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "run-tests.sh: pytest collected no tests" >&2
fi
exit $status
