#!/usr/bin/env bash
# Starts the built server and checks each endpoint with curl, as a user would.
# Usage: scripts/smoke-server.sh [path/to/omnizip]   (default .build/release/omnizip)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/omnizip}
GOLDEN=../shared/golden
[ -d "$GOLDEN" ] || GOLDEN=Tests/OmniZipTestSupport/Fixtures/golden
CASE=public-027-s2-p20-d16
work=$(mktemp -d)
log="$work/server.log"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
sock="$work/omnizip.sock"

# TCP and, beside it, a Unix socket (curl --unix-socket).
"$BIN" serve --host 127.0.0.1 --port "$port" --unix-socket "$sock" --workers 2 --log-format json >"$log" 2>&1 &
pid=$!
cleanup() { kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "smoke: FAIL: $*" >&2; echo "--- server log:" >&2; cat "$log" >&2; exit 1; }
for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "server exited during startup"
    sleep 0.1
done

status() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
expect() {  # expect CODE DESCRIPTION curl-args...
    local want=$1 what=$2; shift 2
    local got; got=$(status "$@")
    [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want: $(head -c 300 "$work/body")"
    echo "smoke: ok   $what -> $got"
}

expect 200 "GET /livez" "$base/livez"
expect 200 "GET /healthz" "$base/healthz"
expect 200 "GET /readyz" "$base/readyz"
expect 200 "GET /v1/info" "$base/v1/info"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "version" in d, d' "$work/body" || fail "/v1/info is not JSON with a version"
expect 200 "POST /v1/compress (golden $CASE)" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/compress"
python3 - "$work/body" "$GOLDEN/$CASE.expected.safetensors" <<'PY' || fail "compress response differs from the golden expectation"
import json, struct, sys
def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    return {k: raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]] for k, v in header.items()}, meta
got, meta = tensors(sys.argv[1]); want, _ = tensors(sys.argv[2])
for name in ("keep_mask", "merged_index", "video_chunk_ratio", "audio_chunk_retention"):
    assert got[name] == want[name], name
print("smoke: ok   compress parity; kept", meta.get("kept"), "of", meta.get("total"))
PY
cp "$work/body" "$work/tcp-compress"
expect 200 "GET /livez over the Unix socket" --unix-socket "$sock" http://localhost/livez
expect 200 "POST /v1/compress over the Unix socket (golden $CASE)" --unix-socket "$sock" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$GOLDEN/$CASE.request.safetensors" http://localhost/v1/compress
cmp -s "$work/body" "$work/tcp-compress" || fail "the Unix socket's compress answer differs from TCP's"
[ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock"), expected 660"
echo "smoke: ok   Unix socket answers as TCP does; mode 0660"
expect 200 "POST /v1/compress, Accept: application/json (golden $CASE)" -H 'Accept: application/json' \
    --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/compress"
python3 - "$work/body" "$GOLDEN/$CASE.expected.safetensors" <<'PY' || fail "compress JSON differs from the golden expectation"
import json, struct, sys
answer = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
begin, end = header["keep_mask"]["data_offsets"]
mask = raw[8 + n + begin: 8 + n + end]
assert answer["kept_index"] == [i for i, b in enumerate(mask) if b], "kept_index"
begin, end = header["merged_index"]["data_offsets"]
assert answer["merged_index"] == list(struct.unpack(f"<{(end - begin) // 8}q", raw[8 + n + begin: 8 + n + end])), "merged_index"
assert "merged_embeds" not in answer
print("smoke: ok   compress JSON parity; kept", answer["kept"], "of", answer["total"])
PY
expect 200 "POST /v1/explain (golden $CASE)" --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/explain"
grep -q '<svg' "$work/body" && grep -q 'data-kept=' "$work/body" || fail "/v1/explain is not the report page"
! grep -qi '<script' "$work/body" || fail "/v1/explain page has a script"
expect 400 "POST /v1/explain with a bad detail" --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/explain?detail=huge"
grep -q '"invalid_parameter"' "$work/body" || fail "explain 400 body does not name the error code"
expect 200 "POST /v1/score (JSON)" -H 'Content-Type: application/json' \
    -d '{"audio_scores":[0.1,0.5,0.2,0.9],"audio_chunk_lens":[2,2],"video_chunk_lens":[8,8],"tokens_per_frame":4}' "$base/v1/score"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "video_chunk_kept" in d and "kept_video" in d, d' "$work/body" || fail "score JSON lacks the plan"
expect 200 "POST /v1/budget" -H 'Content-Type: application/json' \
    -d '{"audio_chunk_lens":[50,50,50,3],"video_chunk_lens":[240,240,240,100],"tokens_per_frame":120}' "$base/v1/budget"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert (d["kept_audio"], d["kept_video"], d["kept"]) == (115, 388, 503), d' "$work/body" \
    || fail "budget JSON has the wrong totals"
expect 200 "POST /v1/compress?video_budget=exact (golden $CASE)" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/compress?video_budget=exact"
expect 400 "POST /v1/compress with a bad parameter" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$GOLDEN/$CASE.request.safetensors" "$base/v1/compress?rho_audio=2"
grep -q '"invalid_parameter"' "$work/body" || fail "400 body does not name the error code"
expect 400 "POST /v1/compress with garbage" -H 'Content-Type: application/octet-stream' --data-binary 'not safetensors' "$base/v1/compress"
expect 404 "GET /nope" "$base/nope"
expect 405 "GET /v1/compress" "$base/v1/compress"
expect 200 "GET /metrics" "$base/metrics"
grep -q '^omnizip_' "$work/body" || fail "/metrics has no omnizip_ series"
for family in omnizip_build_info process_cpu_seconds_total process_resident_memory_bytes process_open_fds process_start_time_seconds; do
    grep -q "^$family" "$work/body" || fail "/metrics has no $family"
done
# Prometheus's own linter (Debian's prometheus package; installed when missing, as root).
if ! command -v promtool >/dev/null; then
    [ "$(id -u)" -eq 0 ] || fail "promtool is missing: apt-get install prometheus (as root)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool check metrics <"$work/body" >"$work/promtool" 2>&1 || { cat "$work/promtool" >&2; fail "promtool check metrics"; }
echo "smoke: ok   promtool check metrics"

kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "server still running 10 s after SIGTERM"; fi
wait "$pid" && code=0 || code=$?
[ "$code" = 0 ] || fail "server exited with $code after SIGTERM"
echo "smoke: ok   SIGTERM -> exit 0"
[ ! -e "$sock" ] || fail "the Unix socket file is still there after the drain"
echo "smoke: ok   Unix socket file removed"
echo "smoke: all passed"
