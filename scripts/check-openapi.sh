#!/usr/bin/env bash
# Validates openapi.yaml (OpenAPI 3.1) with openapi-spec-validator from PyPI, in a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${OPENAPI_VENV:-.venv-openapi}
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'openapi-spec-validator>=0.7,<1'
fi
"$venv/bin/openapi-spec-validator" openapi.yaml
