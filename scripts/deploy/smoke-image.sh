#!/usr/bin/env bash
# The real container image, built and run with podman (`make smoke-image`; needs root).
#
#   1. installs podman, runc and mmdebstrap from Debian when missing;
#   2. makes the Dockerfile's runtime base (debian:12.11-slim) locally with mmdebstrap from the
#      host's Debian mirror (no registry is reachable), cached: the image carries a hash of its
#      recipe (smoke-image-base.sh + the mirror list) and is rebuilt only when that changes;
#   3. builds the runtime stage of the unmodified Dockerfile, its build stage replaced by the
#      host's release binary (--build-context build=DIR, stripped as the build stage does);
#   4. runs it with the production options (read-only root, tmpfs /tmp, no capabilities,
#      no-new-privileges, --memory=512m --cpus=1 --pids-limit=256, loopback port): uid,
#      read-only root, probes, /metrics, /v1/info's workers and memory budget derived from the
#      cgroup limits, HEALTHCHECK, every golden case, SIGTERM (podman stop) during an upload;
#   5. runs it again as deploy/overlays/sidecar's container spec, translated to podman flags by
#      manifest_to_podman.py from the kustomize render: its probes, env, the Unix socket on
#      the shared volume (reached from the host), stop with the manifest's grace period;
#   6. removes its containers and the built image, and checks that containers, images,
#      networks and netavark/CNI firewall chains are as before (only the cached base stays).
#
# Usage: scripts/deploy/smoke-image.sh [path/to/omnizip]   (default .build/release/omnizip)
# Environment:
#   CI=anything           podman unusable is a failure, not a skip
#   SMOKE_IMAGE_KEEP=1    keep the built image (localhost/omnizip:smoke-image) and work dir
#   CONTAINERS_CONF=file  podman settings (default scripts/deploy/podman-containers.conf)
#   DEPLOY_VENV=path      the deploy tools venv (kubectl for the render), as check.sh
#   SMOKE_IMAGE_OVERLAY=dir  the kustomization run in step 5 (default deploy/overlays/sidecar)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE=scripts/deploy
BIN="${1:-.build/release/omnizip}"
TAG=localhost/omnizip:smoke-image
EXPECT_UID=10001   # deploy/base runs the container as 10001:10001; the image must agree
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/$HERE/podman-containers.conf}"
VENV="${DEPLOY_VENV:-$ROOT/.venv-deploy}"
OVERLAY="${SMOKE_IMAGE_OVERLAY:-deploy/overlays/sidecar}"
T_START=$(date +%s.%N)

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS  $*"; }
ko() { failed=$((failed + 1)); echo "FAIL  $*"; }
summary() { echo; echo "smoke-image: $passed passed, $failed failed ($(elapsed "$T_START") s)"; }
die() { ko "$*"; summary; exit 1; }
skip() {
    [[ -z "${CI:-}" ]] || die "podman cannot run here ($*), and CI is set"
    echo "SKIP  smoke-image: $*"
    exit 0
}
elapsed() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
dfq() { python3 "$HERE/dockerfile.py" Dockerfile "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
code() { curl -s -o /dev/null -m "${2:-5}" -w '%{http_code}' "$1" || true; }

[[ -x "$BIN" ]] || die "no binary at $BIN (make release builds it)"

# --- 1. tools ----------------------------------------------------------------------------------
[[ "$(id -u)" == 0 ]] || skip "needs root (rootful podman, apt-get, iptables)"
missing=()
for p in podman runc mmdebstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "== apt-get install ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null \
        || skip "apt-get install ${missing[*]} failed"
fi
for t in curl python3 strip iptables-save; do command -v "$t" >/dev/null || die "missing tool: $t"; done
info_err="$(podman info 2>&1 >/dev/null)" || skip "podman info fails: ${info_err:0:300}"
echo "== $(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), cgroups $(podman info --format '{{.Host.CgroupsVersion}}'), network $(podman info --format '{{.Host.NetworkBackend}}')"

WORK="$(mktemp -d /tmp/omnizip-smoke-image.XXXXXX)"
CONTAINERS=()
BASE="$(dfq base)"
[[ "$BASE" == */* ]] && BASE_REF="$BASE" || BASE_REF="docker.io/library/$BASE"

# What podman and the firewall hold, minus the cached base (it may be rebuilt in between).
snapshot() {
    mkdir -p "$1"
    podman ps -a --format '{{.ID}} {{.Names}} {{.Image}}' | sort > "$1/containers"
    podman images -a --format '{{.ID}} {{.Repository}}:{{.Tag}}' | grep -v " $BASE_REF\$" | sort > "$1/images" || true
    podman network ls --format '{{.Name}} {{.Driver}}' | sort > "$1/networks"
    { iptables-save; ip6tables-save; } 2>/dev/null | grep -E 'NETAVARK|CNI-' | sort > "$1/firewall" || true
}
snapshot "$WORK/before"
fw_count() { iptables -S 2>/dev/null | grep -cE 'CNI|NETAVARK' || true; }
FW_BEFORE="$(fw_count)"

# netavark keeps its top-level chains (NETAVARK_FORWARD, NETAVARK-HOSTPORT-*) after the last
# container is gone. When this run created them (none before, no container left), remove them.
drop_netavark_chains() {
    local ipt t line chain
    for ipt in iptables ip6tables; do
        command -v "$ipt" >/dev/null || continue
        for t in filter nat; do
            while IFS= read -r line; do
                # iptables -S quotes like a shell (the comment text); -A becomes -D.
                eval "$ipt -t $t -D ${line#-A }" || true
            done < <("$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*-j (NETAVARK|CNI-)' || true)
            for chain in $("$ipt" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(NETAVARK|CNI-)/ {print $2}'); do
                "$ipt" -t "$t" -F "$chain" 2>/dev/null || true
            done
            for chain in $("$ipt" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(NETAVARK|CNI-)/ {print $2}'); do
                "$ipt" -t "$t" -X "$chain" 2>/dev/null || true
            done
        done
    done
}

cleaned=0
cleanup() {
    [[ $cleaned == 0 ]] || return 0
    cleaned=1
    local c
    for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    if [[ "${SMOKE_IMAGE_KEEP:-0}" != 1 ]]; then
        podman rmi -f "$TAG" >/dev/null 2>&1 || true
    fi
    if [[ ! -s "$WORK/before/firewall" && -z "$(podman ps -aq)" ]]; then drop_netavark_chains; fi
}
on_exit() {
    cleanup
    if [[ "${SMOKE_IMAGE_KEEP:-0}" == 1 ]]; then echo "kept $WORK and $TAG"; else rm -rf "$WORK"; fi
}
trap on_exit EXIT

# --- 2. base image -------------------------------------------------------------------------------
SOURCES=/etc/apt/sources.list.d/debian.sources
[[ -f "$SOURCES" ]] || SOURCES=/etc/apt/sources.list
RECIPE="$(cat "$HERE/smoke-image-base.sh" "$SOURCES" <(echo "$BASE") | sha256sum | cut -c1-16)"
LABEL=org.omnizip.smoke-base.recipe
have="$(podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$BASE_REF" 2>/dev/null || echo absent)"
if [[ "$have" == "$RECIPE" ]]; then
    ok "base $BASE_REF cached (recipe $RECIPE)"
elif [[ "$have" == "" || "$have" == "<no value>" ]]; then
    ok "base $BASE_REF present and not made here (a pulled image): used as it is"
else
    t=$(date +%s.%N)
    old="$(podman image inspect --format '{{.Id}}' "$BASE_REF" 2>/dev/null || true)"
    echo "== making $BASE_REF with mmdebstrap from $SOURCES (recipe $RECIPE, was: $have)"
    bash "$HERE/smoke-image-base.sh" "$WORK/base.tar" "$SOURCES" >"$WORK/mmdebstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/mmdebstrap.log"; die "mmdebstrap of the base failed"; }
    podman import --quiet --change "LABEL $LABEL=$RECIPE" --change 'CMD ["bash"]' "$WORK/base.tar" "$BASE_REF" >/dev/null \
        || die "podman import of the base failed"
    rm -f "$WORK/base.tar"
    [[ -z "$old" ]] || podman rmi "$old" >/dev/null 2>&1 || true
    ok "base $BASE_REF made ($(podman image inspect --format '{{.Size}}' "$BASE_REF" | numfmt --to=si --suffix=B), $(elapsed "$t") s)"
fi

# --- 3. build the runtime stage --------------------------------------------------------------
# The build stage's output is /out/usr/local/bin/omnizip (COPY --from=build); the build context
# named "build" stands in for that stage. The runtime stage copies nothing from the main
# context, so an empty one keeps .build/ (gigabytes) out of the build.
mkdir -p "$WORK/empty"
install -D -m 0755 "$BIN" "$WORK/build/out/usr/local/bin/omnizip"
strip --strip-debug "$WORK/build/out/usr/local/bin/omnizip"
t=$(date +%s.%N)
if podman build --pull=never --format docker --build-context "build=$WORK/build" --target runtime \
        -f Dockerfile -t "$TAG" "$WORK/empty" >"$WORK/build.log" 2>&1; then
    ok "podman build --target runtime: $TAG, $(podman image inspect --format '{{.Size}}' "$TAG" | numfmt --to=si --suffix=B), $(elapsed "$t") s"
else
    tail -n 30 "$WORK/build.log"
    die "podman build of the Dockerfile's runtime stage failed"
fi

# --- helpers for running containers ------------------------------------------------------------
start() { # start NAME PODMAN-RUN-ARGS...: run detached, remember it for cleanup
    local name=$1; shift
    CONTAINERS+=("$name")
    podman run -d --name "$name" "$@" >"$WORK/$name.run" 2>&1 || { cat "$WORK/$name.run"; return 1; }
}
wait_ready() { # wait_ready NAME URL SECONDS: 200 from URL, or the container exited
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        [[ "$(code "$2" 2)" == 200 ]] && return 0
        [[ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" == true ]] || return 1
        sleep 0.05
    done
    return 1
}
logs() { echo "--- $1 log (last ${2:-15} lines)"; podman logs "$1" 2>&1 | grep -v 'systemd connection' | tail -n "${2:-15}"; }
host_ids() { # host_ids NAME -> "UID GID" of the container's PID 1, as the host sees it
    local pid; pid="$(podman inspect --format '{{.State.Pid}}' "$1")"
    echo "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status") $(awk '/^Gid:/ {print $2}' "/proc/$pid/status")"
}
info_field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }
cgroup_view() { # what the server reads, from inside the container
    podman exec "$1" /bin/bash -c 'for f in cpu.max memory.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us \
        cpu,cpuacct/cpu.cfs_quota_us memory/memory.limit_in_bytes; do
        [[ -r /sys/fs/cgroup/$f ]] && printf "%s=%s " "$f" "$(< /sys/fs/cgroup/$f)"; done; echo' 2>/dev/null || true
}
readonly_root() { # readonly_root NAME PREFIX: a write to / fails with EROFS (not merely EACCES), /tmp works
    local err
    if err="$(podman exec --user 0 "$1" /bin/bash -c ': > /smoke-write' 2>&1)"; then
        ko "$2read-only root: a write to / succeeded"
    elif [[ "$err" == *"Read-only file system"* ]]; then
        ok "$2read-only root: a write to / (even as uid 0) fails: Read-only file system"
    else
        ko "$2read-only root: a write to / failed, but not as read-only: $err"
    fi
    if podman exec "$1" /bin/bash -c 'echo x > /tmp/smoke-write' 2>/dev/null; then ok "$2/tmp is writable (tmpfs)"
    else ko "$2/tmp is not writable"; fi
}
# The rule of ServerConfiguration+MachineLimits.swift: workers = min(online CPUs, ceil(quota));
# buffered bytes = max(256 MiB, min(physical memory, cgroup limit) / 2).
expect_workers() { python3 -c 'import math, os, sys; print(max(1, min(os.sysconf("SC_NPROCESSORS_ONLN"), math.ceil(float(sys.argv[1])))))' "$1"; }
expect_buffered() { python3 -c 'import os, sys; phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"); print(max(256 << 20, min(phys, int(sys.argv[1])) // 2))' "$1"; }
UNLIMITED_BUFFERED="$(expect_buffered $((1 << 62)))"
check_limits() { # check_limits NAME URL CPUS MEMORY (podman's --memory, e.g. 512m)
    local w b gw gb mem
    mem="$(numfmt --from=iec "${4^^}")"
    w="$(expect_workers "$3")"; b="$(expect_buffered "$mem")"
    curl -s -m 5 -o "$WORK/info.json" "$2/v1/info" || true
    gw="$(info_field "$WORK/info.json" 'workers' 2>/dev/null || echo '?')"
    gb="$(info_field "$WORK/info.json" 'limits["max_buffered_bytes"]' 2>/dev/null || echo '?')"
    echo "     cgroup files in the container: $(cgroup_view "$1")"
    if [[ "$gw" == "$w" ]]; then ok "--cpus=$3: /v1/info workers $gw (= min($(nproc) online CPUs, ceil($3)))"
    else ko "--cpus=$3: /v1/info workers $gw, expected $w (cgroup CPU quota not applied?)"; fi
    if [[ "$gb" == "$b" ]]; then ok "--memory=$4: /v1/info max_buffered_bytes $gb (= max(256 MiB, $mem / 2); without the limit $UNLIMITED_BUFFERED)"
    else ko "--memory=$4: /v1/info max_buffered_bytes $gb, expected $b (without a limit it would be $UNLIMITED_BUFFERED)"; fi
    if [[ "$gw" != "$w" || "$gb" != "$b" ]]; then
        echo "     /proc/self/cgroup in the container:"; podman exec "$1" cat /proc/self/cgroup | sed 's/^/       /' || true
    fi
}
GOLDEN=../shared/golden
[[ -d "$GOLDEN" ]] || GOLDEN=Tests/OmniZipTestSupport/Fixtures/golden

# --- 4. the image with the production options ----------------------------------------------------
PROD=(--read-only --tmpfs /tmp --cap-drop=ALL --security-opt no-new-privileges --pids-limit=256)
C="omnizip-smoke-image-$$"
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
echo "== podman run ${PROD[*]} --memory=512m --cpus=1 -p 127.0.0.1:$PORT:8080 $TAG"
t=$(date +%s.%N)
start "$C" "${PROD[@]}" --memory=512m --cpus=1 -p "127.0.0.1:$PORT:8080" "$TAG" || die "podman run failed"
if wait_ready "$C" "$URL/readyz" 30; then ok "/readyz 200 $(elapsed "$t") s after podman run"
else logs "$C" 30; die "no /readyz 200 within 30 s of podman run"; fi

read -r uid gid <<<"$(host_ids "$C")"
if [[ "$uid" == "$EXPECT_UID" && "$uid" != 0 ]]; then ok "non-root: the server runs as uid $uid gid $gid (Dockerfile USER $(dfq user))"
else ko "the server runs as uid $uid gid $gid, expected uid $EXPECT_UID (Dockerfile USER $(dfq user))"; fi
readonly_root "$C" ""
for p in /livez /readyz /healthz; do
    c="$(code "$URL$p")"; if [[ "$c" == 200 ]]; then ok "GET $p 200"; else ko "GET $p -> $c"; fi
done
curl -s -m 5 -o "$WORK/metrics" "$URL/metrics" || true
if command -v promtool >/dev/null; then
    if promtool check metrics <"$WORK/metrics" >"$WORK/promtool" 2>&1; then ok "/metrics passes promtool check metrics ($(grep -c '^# TYPE' "$WORK/metrics") families)"
    else ko "/metrics fails promtool check metrics: $(head -c 300 "$WORK/promtool")"; fi
elif grep -q '^# TYPE ' "$WORK/metrics"; then ok "/metrics is Prometheus text (promtool absent: '# TYPE' lines only)"
else ko "/metrics has no '# TYPE' lines"; fi
check_limits "$C" "$URL" 1 512m

hc="$(podman healthcheck run "$C" 2>&1 | grep -v 'systemd connection' || true)"
status="$(podman inspect --format '{{.State.Health.Status}}' "$C" 2>/dev/null || true)"
if [[ "$status" == healthy ]]; then ok "HEALTHCHECK: podman healthcheck run -> $status"
else ko "HEALTHCHECK: podman healthcheck run -> '${hc:-$status}'"; fi

if out="$(python3 "$HERE/golden_post.py" --url "$URL" "$GOLDEN")"; then ok "golden over TCP: $(tail -n 1 <<<"$out")"
else echo "$out"; ko "golden over TCP: $(tail -n 1 <<<"$out")"; fi

# SIGTERM while an upload is in flight: the largest golden request, rate-limited to ~4 s.
REQ="$(find "$GOLDEN" -name '*.request.safetensors' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)"
rate=$(( $(stat -c %s "$REQ") / 4 ))
curl -s -m 60 -o "$WORK/slow.out" -w '%{http_code}' --limit-rate "$rate" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$REQ" "$URL/v1/compress" >"$WORK/slow.code" 2>&1 &
slow=$!
sleep 1
t=$(date +%s.%N)
podman stop -t 30 "$C" >"$WORK/stop.log" 2>&1 &
stopper=$!
sleep 0.5
during="$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$REQ" "$URL/v1/compress" || true)"
if [[ "$during" == 503 || "$during" == 000 ]]; then ok "new work refused while draining (${during/000/connection refused})"
else ko "a new /v1/compress while draining -> $during"; fi
wait "$stopper" || true
stop_s="$(elapsed "$t")"
wait "$slow" || true
if [[ "$(cat "$WORK/slow.code")" == 200 ]]; then ok "upload in flight during podman stop finished with 200 ($(basename "$REQ"), $(stat -c %s "$REQ") B at $rate B/s)"
else ko "upload in flight during podman stop -> '$(cat "$WORK/slow.code")'"; fi
rc="$(podman inspect --format '{{.State.ExitCode}}' "$C")"
if [[ "$rc" == 0 && "${stop_s%.*}" -lt 30 ]]; then ok "podman stop -t 30: exit code 0 after $stop_s s (SIGTERM, drained, no SIGKILL)"
else logs "$C"; ko "podman stop -t 30: exit code $rc after $stop_s s"; fi

# A second pair of limits: a fractional quota rounds up, and a budget above the 256 MiB floor.
C2="$C-limits"
PORT2="$(free_port)"
start "$C2" "${PROD[@]}" --memory=1536m --cpus=1.5 -p "127.0.0.1:$PORT2:8080" "$TAG" || die "podman run ($C2) failed"
if wait_ready "$C2" "http://127.0.0.1:$PORT2/readyz" 30; then check_limits "$C2" "http://127.0.0.1:$PORT2" 1.5 1536m
else logs "$C2"; ko "--cpus=1.5 --memory=1536m: no /readyz 200"; fi
podman rm -f -t 0 "$C2" >/dev/null 2>&1 || true

# --- 5. the sidecar overlay's container spec, from the rendered manifests -----------------------
stamp="$VENV/.requirements.sha256"
if [[ ! -x "$VENV/bin/kubectl" || "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)" ]]; then
    # Same venv and stamp as check.sh, which makes it (reused when check-deploy ran first).
    echo "== installing deploy tools into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$HERE/requirements.txt"
    sha256sum "$HERE/requirements.txt" | cut -d' ' -f1 > "$stamp"
fi
"$VENV/bin/kubectl" kustomize "$OVERLAY" > "$WORK/sidecar.yaml" || die "kubectl kustomize $OVERLAY failed"
S="$C-sidecar"
echo "== $OVERLAY, container omnizip, as podman flags (manifest_to_podman.py):"
"$VENV/bin/python" "$HERE/manifest_to_podman.py" "$WORK/sidecar.yaml" --container omnizip --image "$TAG" \
    --name "$S" --shared-dir "$WORK/volumes" --out "$WORK/sidecar" | sed 's/^/     /' \
    || die "the sidecar manifest cannot be translated to podman flags"
mapfile -t RUN_ARGS < "$WORK/sidecar/run.args"
declare -A X=()
while IFS='=' read -r k v; do X[$k]="$v"; done < "$WORK/sidecar/expect.env"
CONTAINERS+=("$S")
podman run "${RUN_ARGS[@]}" >"$WORK/sidecar.run" 2>&1 || { cat "$WORK/sidecar.run"; die "podman run of the sidecar spec failed"; }

# Startup probe first (its period x failureThreshold is the budget), then every probe once.
mapfile -t PROBES < "$WORK/sidecar/probes.tsv"
[[ ${#PROBES[@]} -gt 0 ]] || ko "the sidecar container has no httpGet probes"
IFS=$'\t' read -r kind path hport timeout budget <<<"${PROBES[0]}"
t=$(date +%s.%N)
if wait_ready "$S" "http://127.0.0.1:$hport$path" "$budget"; then ok "sidecar: $kind $path 200 after $(elapsed "$t") s (budget $budget s)"
else logs "$S" 30; die "sidecar: $kind $path not 200 within $budget s"; fi
for line in "${PROBES[@]}"; do
    IFS=$'\t' read -r kind path hport timeout budget <<<"$line"
    c="$(code "http://127.0.0.1:$hport$path" "$timeout")"
    if [[ "$c" == 200 ]]; then ok "sidecar: $kind GET $path (manifest port -> 127.0.0.1:$hport) 200 within ${timeout} s"
    else ko "sidecar: $kind GET $path (127.0.0.1:$hport) -> $c (probe path or port wrong?)"; fi
done
read -r uid gid <<<"$(host_ids "$S")"
if [[ "$uid:$gid" == "${X[UID]}:${X[GID]}" && "$uid" != 0 ]]; then ok "sidecar: runs as $uid:$gid (securityContext runAsUser/runAsGroup)"
else ko "sidecar: runs as $uid:$gid, the manifest says ${X[UID]:-?}:${X[GID]:-?}"; fi
[[ "${X[READONLY]:-0}" == 1 ]] && readonly_root "$S" "sidecar: "
curl -s -m 5 -o "$WORK/info.json" "http://127.0.0.1:$hport/v1/info" || true
for pair in workers:OMNIZIP_WORKERS 'limits["max_inflight"]:OMNIZIP_MAX_INFLIGHT' \
            'limits["max_buffered_bytes"]:OMNIZIP_MAX_BUFFERED_BYTES' 'limits["max_body_bytes"]:OMNIZIP_MAX_BODY_BYTES'; do
    field="${pair%%:*}"; var="${pair#*:}"
    [[ -n "${X[ENV_$var]:-}" ]] || continue
    got="$(info_field "$WORK/info.json" "$field" 2>/dev/null || echo '?')"
    if [[ "$got" == "${X[ENV_$var]}" ]]; then ok "sidecar: ConfigMap $var=${X[ENV_$var]} reached the server (/v1/info $field)"
    else ko "sidecar: ConfigMap $var=${X[ENV_$var]}, /v1/info $field is $got"; fi
done
SOCK=""
mapfile -t SOCKETS < "$WORK/sidecar/sockets.tsv"
for line in "${SOCKETS[@]}"; do
    IFS=$'\t' read -r SOCK ctr_path <<<"$line"
    if [[ -S "$SOCK" ]]; then ok "sidecar: Unix socket $ctr_path on the shared volume, on the host as $SOCK (mode $(stat -c '%a %u:%g' "$SOCK"))"
    else ko "sidecar: no Unix socket at $SOCK (container $ctr_path)"; continue; fi
    c="$(curl -s -o /dev/null -m 5 -w '%{http_code}' --unix-socket "$SOCK" http://localhost/livez || true)"
    if [[ "$c" == 200 ]]; then ok "sidecar: curl --unix-socket (from the host) GET /livez 200"; else ko "sidecar: GET /livez over the socket -> $c"; fi
    if out="$(python3 "$HERE/golden_post.py" --unix-socket "$SOCK" "$GOLDEN")"; then ok "sidecar: golden over the Unix socket: $(tail -n 1 <<<"$out")"
    else echo "$out"; ko "sidecar: golden over the Unix socket: $(tail -n 1 <<<"$out")"; fi
    # Descriptors cross from the host into the container's server: no shared /dev/shm needed.
    if out="$(python3 "$HERE/golden_post.py" --unix-socket "$SOCK" --memfd "$GOLDEN")"; then ok "sidecar: golden as sealed memfds over the socket: $(tail -n 1 <<<"$out")"
    else echo "$out"; ko "sidecar: golden as sealed memfds over the socket: $(tail -n 1 <<<"$out")"; fi
    # The same in huge pages (MFD_HUGETLB): the container's server maps pages the host's
    # client reserved. Only where the host has huge pages free (make smoke-image reserves them as root).
    if [[ "$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)" -gt 0 ]]; then
        if out="$(python3 "$HERE/golden_post.py" --unix-socket "$SOCK" --memfd --huge-pages "$GOLDEN")"; then ok "sidecar: golden as sealed memfds in huge pages: $(tail -n 1 <<<"$out")"
        else echo "$out"; ko "sidecar: golden as sealed memfds in huge pages: $(tail -n 1 <<<"$out")"; fi
    elif [[ -n "${CI:-}" ]]; then ko "sidecar: golden as memfds in huge pages: no free huge page on this host, and CI is set"
    else echo "NOT RUN  sidecar: golden as memfds in huge pages: no free huge page (scripts/huge-pages.sh reserves them as root)"; fi
done
[[ -n "$SOCK" ]] || ko "sidecar: the manifest gives omnizip no Unix socket on a shared volume"
t=$(date +%s.%N)
podman stop "$S" >"$WORK/stop-sidecar.log" 2>&1 || true   # --stop-timeout = terminationGracePeriodSeconds
rc="$(podman inspect --format '{{.State.ExitCode}}' "$S")"
if [[ "$rc" == 0 ]]; then ok "sidecar: podman stop (grace ${X[GRACE]} s from the manifest): exit 0 after $(elapsed "$t") s"
else logs "$S"; ko "sidecar: podman stop: exit code $rc"; fi
if [[ -n "$SOCK" && ! -e "$SOCK" ]]; then ok "sidecar: the socket file is gone after the drain"
elif [[ -n "$SOCK" ]]; then ko "sidecar: the socket file is still there after exit"; fi

# --- 6. leave nothing behind ---------------------------------------------------------------------
cleanup
snapshot "$WORK/after"
for what in containers images networks firewall; do
    if diff -u "$WORK/before/$what" "$WORK/after/$what" >"$WORK/$what.diff"; then
        ok "no $what left behind ($(wc -l < "$WORK/after/$what") before and after)"
    else
        ko "$what differ from before the run:"; tail -n +3 "$WORK/$what.diff"
    fi
done
echo "     iptables -S | grep -cE 'CNI|NETAVARK': $FW_BEFORE before, $(fw_count) after;" \
     "images: $(podman images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')"
summary
[[ $failed == 0 ]]
