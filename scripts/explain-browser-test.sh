#!/usr/bin/env bash
# The explain report as a person sees it: served by `omnizip serve`, rendered in headless
# Chromium (Debian's chromium package, installed here when missing), checked for console
# errors, outside requests, and one filled cell per kept token (equal to /v1/compress's
# kept_video and kept_audio), and the values read back from the DOM checked against the request
# (audio scores, the cut-off, each heat map's kept cells as its top k, the merge weights).
# Then the 60-second clip's page: under 2 MB, rendered in under 2 s.
# Usage: scripts/explain-browser-test.sh [path/to/omnizip]   (default .build/release/omnizip)
# SCREENSHOT=docs/explain-report.png also writes the golden case's screenshot (top of the page,
# SCREENSHOT_WIDTH px wide: 1400 by default, where the frames and the audio sit side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/omnizip}
GOLDEN=../shared/golden
CASE=${EXPLAIN_CASE:-public-001-s20-p120-d128}
[ -f "$GOLDEN/$CASE.request.safetensors" ] || { GOLDEN=Tests/OmniZipTestSupport/Fixtures/golden; CASE=public-031-s6-p9-d24; }
MAX_MS=${EXPLAIN_MAX_MS:-2000}
MAX_BYTES=2000000

fail() { echo "explain-browser: FAIL: $*" >&2; [ -n "${log:-}" ] && [ -f "$log" ] && { echo "--- server log:" >&2; tail -20 "$log" >&2; }; exit 1; }

# Chromium is part of this test's setup: install it (as root) rather than skip the check.
if ! command -v chromium >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || fail "chromium is not installed; run 'apt-get install chromium' as root"
    echo "explain-browser: installing chromium (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1 || fail "chromium missing after install"
echo "explain-browser: $(chromium --version 2>/dev/null | head -1)"

work=$(mktemp -d)
log="$work/server.log"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$BIN" serve --host 127.0.0.1 --port "$port" --workers 2 --log-format json >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "server exited during startup"
    sleep 0.1
done

# check NAME REQUEST [explain_browser.py options...]: explain and compress the request, then render.
check() {
    local name=$1 request=$2; shift 2
    local code
    code=$(curl -s -o "$work/$name.html" -w '%{http_code} %{content_type}' --data-binary @"$request" "$base/v1/explain")
    [ "$code" = "200 text/html; charset=utf-8" ] || fail "$name: POST /v1/explain answered $code: $(head -c 300 "$work/$name.html")"
    curl -fs -H 'Accept: application/json' --data-binary @"$request" "$base/v1/compress" -o "$work/$name.json" \
        || fail "$name: POST /v1/compress failed"
    local kept_video kept_audio
    kept_video=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kept_video"])' "$work/$name.json")
    kept_audio=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kept_audio"])' "$work/$name.json")
    python3 scripts/explain_browser.py "$work/$name.html" --kept-video "$kept_video" --kept-audio "$kept_audio" \
        --request "$request" "$@" \
        || fail "$name: the rendered page failed its checks"
    echo "explain-browser: ok   $name: $kept_video video and $kept_audio audio cells kept, as /v1/compress says; scores, cut-off, heat maps and merge weights as the request and the rules give"
}

check "$CASE" "$GOLDEN/$CASE.request.safetensors" --max-ms "$MAX_MS" \
    ${SCREENSHOT:+--screenshot "$SCREENSHOT" --screenshot-height 1372 --width "${SCREENSHOT_WIDTH:-1400}"}
"$BIN" bench --emit "$work/clip60.safetensors"
check clip60 "$work/clip60.safetensors" --max-ms "$MAX_MS" --max-bytes "$MAX_BYTES"
echo "explain-browser: all passed"
