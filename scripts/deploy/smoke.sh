#!/usr/bin/env bash
# Container smoke test without a Docker engine (`make smoke-container`; needs root).
#
# Rebuilds what the image holds and runs it the way the image does, with nothing else around:
#   1. builds the binary with the Dockerfile's build command (`make release`);
#   2. maps every `ldd` line of it to its Debian package and compares that set with the
#      runtime stage's `apt-get install` list (missing -> fail; listed but unused -> fail);
#   3. assembles a root filesystem holding only: the binary (stripped like the Dockerfile does),
#      the shared objects of exactly those runtime packages plus libc6 (loader, libc), the
#      update-alternatives links those packages register, an ld.so.cache, /etc/passwd;
#   4. runs ENTRYPOINT + CMD with exactly the Dockerfile's ENV, as its USER, as PID 1 of a new
#      PID namespace (so SIGTERM works only if omnizip handles it, as in a container), in a
#      chroot of that root filesystem mounted read-only with a tmpfs /tmp (readOnlyRootFilesystem
#      + emptyDir), no-new-privileges and no capabilities. Argv, ENV and USER are parsed out of
#      the Dockerfile (scripts/deploy/dockerfile.py), so they cannot drift;
#   5. waits for /readyz 200, checks /livez /healthz /metrics /v1/info, runs the Dockerfile's
#      HEALTHCHECK command, POSTs a golden request (200, application/octet-stream, valid
#      safetensors, keep_mask equal to the golden expectation);
#   6. sends SIGTERM while a slow upload is in flight: that request must still succeed and the
#      server must exit 0 within a few seconds.
#
# Environment:
#   OMNIZIP_BIN=path          skip step 1 and test this binary
#   SMOKE_SCRATCH_PATH=dir    run `make release` with `--scratch-path dir` appended (a shared
#                             work tree where .build/ belongs to someone else)
#   SMOKE_KEEP=1              keep the work directory (rootfs, server log) for inspection
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/scripts/deploy"
DF="$ROOT/Dockerfile"
dfq() { python3 "$HERE/dockerfile.py" "$DF" "$1"; }

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS  $*"; }
ko() { failed=$((failed + 1)); echo "FAIL  $*"; }
die() { echo "smoke: $*" >&2; echo "smoke-container: $passed passed, $((failed + 1)) failed"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "needs root (chroot, mount and PID namespaces)"
for t in unshare chroot setpriv ldconfig curl python3 strip dpkg-query; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done

# --- 1. build ---------------------------------------------------------------------------------
if [[ -n "${OMNIZIP_BIN:-}" ]]; then
    BIN="$OMNIZIP_BIN"
elif [[ -n "${SMOKE_SCRATCH_PATH:-}" ]]; then
    # shellcheck disable=SC2016  # $(RELEASE_FLAGS) is for make, not the shell
    flags="$(make -s --no-print-directory -f Makefile -f <(printf 'smoke-print-flags:\n\t@echo $(RELEASE_FLAGS)\n') smoke-print-flags)"
    echo "== make release RELEASE_FLAGS=\"$flags --scratch-path $SMOKE_SCRATCH_PATH\""
    make release RELEASE_FLAGS="$flags --scratch-path $SMOKE_SCRATCH_PATH"
    BIN="$SMOKE_SCRATCH_PATH/release/omnizip"
else
    echo "== make release"
    make release
    BIN=.build/release/omnizip
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"
if ! "$BIN" serve --help >/dev/null 2>&1; then
    die "$BIN has no working 'serve' subcommand yet"
fi
ok "built $BIN ($(stat -c %s "$BIN") bytes) with a working 'serve'"

# --- 2. ldd -> Debian packages vs the runtime stage -------------------------------------------
mapfile -t RUNTIME_PKGS < <(dfq apt-packages)
[[ ${#RUNTIME_PKGS[@]} -gt 0 ]] || die "no apt-get install list in the Dockerfile's runtime stage"
BASE_PKGS=(libc6)   # the loader and libc come with the base image (essential)
echo "== runtime stage installs: ${RUNTIME_PKGS[*]} (+ ${BASE_PKGS[*]} from $(dfq base))"

owner() { # owner PATH -> Debian package owning it (usrmerge and alternatives aware), or nothing
    local p=$1 c
    for c in "$p" "$(readlink -f "$p")" "${p#/usr}" "/usr$p"; do
        dpkg -S "$c" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1 && return 0
    done
    return 0
}

declare -A NEED_PKG=()   # package -> sonames
declare -a LIB_PATHS=()
ldd_out="$(ldd "$BIN")"
if grep -q 'not found' <<<"$ldd_out"; then die "unresolved libraries: $(grep 'not found' <<<"$ldd_out")"; fi
printf '%-28s %-60s %s\n' SONAME PATH PACKAGE
while read -r line; do
    case "$line" in
        *linux-vdso*|"") continue ;;
        *"=>"*) soname="${line%% =>*}"; path="$(awk '{print $3}' <<<"$line")" ;;
        /*) path="${line%% *}"; soname="$(basename "$path")" ;;
        *) continue ;;
    esac
    pkg="$(owner "$path")"
    printf '%-28s %-60s %s\n' "$soname" "$path" "${pkg:-?}"
    [[ -n "$pkg" ]] || { ko "$soname ($path) belongs to no Debian package"; continue; }
    NEED_PKG[$pkg]+="$soname "
    LIB_PATHS+=("$path")
done <<<"$ldd_out"

allowed=" ${RUNTIME_PKGS[*]} ${BASE_PKGS[*]} "
for pkg in "${!NEED_PKG[@]}"; do
    if [[ "$allowed" == *" $pkg "* ]]; then ok "ldd needs $pkg (${NEED_PKG[$pkg]% }) and the image has it"
    else ko "ldd needs $pkg (${NEED_PKG[$pkg]% }) but the runtime stage does not install it"; fi
done
for pkg in "${RUNTIME_PKGS[@]}"; do
    [[ -n "${NEED_PKG[$pkg]:-}" ]] || ko "runtime stage installs $pkg, which no linked library comes from"
done

# --- 3. root filesystem -----------------------------------------------------------------------
WORK="$(mktemp -d /tmp/omnizip-smoke.XXXXXX)"
R="$WORK/rootfs"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [[ "${SMOKE_KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

mkdir -p "$R"/usr/{bin,sbin,lib,lib64} "$R"/usr/local/bin "$R"/{etc,proc,sys,dev,tmp}
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
for pkg in "${BASE_PKGS[@]}" "${RUNTIME_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || die "host lacks $pkg (apt-get install $pkg); the rootfs is built from the host's packages"
    while read -r f; do
        [[ -f "$f" || -L "$f" ]] || continue
        case "$(basename "$f")" in *.so|*.so.*) ;; *) continue ;; esac
        mkdir -p "$R$(dirname "$f")"
        cp -a "$f" "$R$f"
    done < <(dpkg -L "$pkg")
done
cp -a /etc/ld.so.conf "$R/etc/" 2>/dev/null || true
mkdir -p "$R/etc/ld.so.conf.d"
while read -r f; do [[ "$f" == /etc/ld.so.conf.d/*.conf ]] && cp -a "$f" "$R$f"; done < <(dpkg -L libc6)
# Links update-alternatives creates in the image (libopenblas.so.0 -> openblas-pthread/...):
# only when the final target is a file of one of the installed packages.
packaged() { local c; for c in "$1" "${1#/usr}" "/usr${1#/usr}"; do dpkg -S "$c" >/dev/null 2>&1 && return 0; done; return 1; }
for p in "${LIB_PATHS[@]}"; do
    packaged "$p" && continue
    q="/usr${p#/usr}"
    [[ -L "$q" ]] || continue
    target="$(readlink -f "$q")"
    tpkg="$(owner "$target")"
    if [[ -f "$R$target" && "$allowed" == *" $tpkg "* && ! -e "$R$q" ]]; then
        ln -s "$target" "$R$q"
        echo "alternatives link: $q -> $target ($tpkg)"
    fi
done
ldconfig -r "$R" 2>/dev/null || ldconfig -r "$R"
install -m 0755 "$BIN" "$R/usr/local/bin/omnizip"
strip --strip-debug "$R/usr/local/bin/omnizip"

USERSPEC="$(dfq user)"
uid="${USERSPEC%%:*}"; gid="${USERSPEC#*:}"; [[ "$gid" != "$USERSPEC" ]] || gid="$uid"
[[ "$uid" =~ ^[0-9]+$ && "$gid" =~ ^[0-9]+$ && "$uid" != 0 ]] || die "Dockerfile USER must be numeric non-root, got '$USERSPEC'"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nomnizip:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$uid" "$gid" > "$R/etc/passwd"
printf 'root:x:0:\nomnizip:x:%s:\n' "$gid" > "$R/etc/group"
echo "rootfs: $(find "$R" -type f | wc -l) files, $(du -sh "$R" | cut -f1)"

# --- 4. start it like the image ---------------------------------------------------------------
mapfile -t ARGV < <(dfq entrypoint)
mapfile -t IMAGE_ENV < <(dfq env)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Docker's defaults, then the image's ENV, then a free port (as `docker run -e OMNIZIP_PORT=...`;
# this machine is shared, 8080 may be taken).
RUN_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "HOSTNAME=omnizip-smoke"
         "HOME=/nonexistent" "${IMAGE_ENV[@]}" "OMNIZIP_PORT=$PORT")
echo "== argv: ${ARGV[*]}"
echo "== env:  ${RUN_ENV[*]}"
echo "== user: $uid:$gid, read-only root, tmpfs /tmp, no-new-privs, PID 1"
LOG="$WORK/server.log"
in_image() { # in_image ARGV...: run ARGV like `docker run` would run it in this image
    # exec: in `in_image ... &` the job's pid ($!) is then unshare itself, whose only child is
    # omnizip (bash, env, setpriv and chroot all exec into the next).
    # shellcheck disable=SC2016  # expanded by the inner shell
    exec unshare --mount --pid --fork --propagation private --kill-child -- /bin/bash -c '
        set -e
        R=$1; shift
        mount --bind "$R" "$R"
        mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
        mount --rbind /sys "$R/sys"
        mount -o remount,bind,ro "$R/sys"
        mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$R/tmp"
        for d in null zero full random urandom; do : > "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
        mount -o remount,bind,ro "$R"
        exec "$@"
    ' smoke "$R" /usr/bin/env -i "${RUN_ENV[@]}" /usr/bin/setpriv --no-new-privs -- \
        /usr/sbin/chroot --userspec="$uid:$gid" "$R" "$@"
}
if v="$(in_image "${ARGV[0]}" --version 2>&1)"; then ok "the binary runs in the rootfs: ${ARGV[0]} --version -> $v"
else die "the binary does not start in the rootfs (missing library?): $v"; fi
in_image "${ARGV[@]}" >"$LOG" 2>&1 &
SERVER_PID=$!

URL="http://127.0.0.1:$PORT"
code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }
ready=0
for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    [[ "$(code "$URL/readyz")" == 200 ]] && { ready=1; break; }
    sleep 0.2
done
if [[ $ready != 1 ]]; then
    echo "--- server log"; cat "$LOG"
    die "server did not report /readyz 200 within 30 s"
fi
ok "/readyz 200 on :$PORT"
init_pid="$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null | awk '{print $1}')"
if [[ -n "$init_pid" && "$(readlink "/proc/$init_pid/exe" 2>/dev/null)" == *omnizip ]]; then
    ok "omnizip is PID 1 of its namespace (host pid $init_pid), uid $(stat -c %u "/proc/$init_pid")"
else
    ko "could not find omnizip as the namespace's PID 1"
fi

# --- 5. endpoints, HEALTHCHECK, a golden request ----------------------------------------------
for p in /livez /healthz /metrics /v1/info; do
    c="$(code "$URL$p")"
    if [[ "$c" == 200 ]]; then ok "GET $p 200"; else ko "GET $p -> $c"; fi
done
# Read whole before grep: `grep -q` stops at the first match and, under pipefail, curl's SIGPIPE
# would fail the pipeline once the exposition outgrows one write.
metrics=$(curl -s -m 5 "$URL/metrics" || true)
if grep -q '^# TYPE ' <<<"$metrics"; then ok "/metrics is Prometheus text"; else ko "/metrics has no '# TYPE' lines"; fi

mapfile -t HC < <(dfq healthcheck-cmd)
if [[ ${#HC[@]} -gt 0 ]]; then
    if env OMNIZIP_PORT="$PORT" "${HC[@]}"; then ok "Dockerfile HEALTHCHECK command passes"; else ko "Dockerfile HEALTHCHECK command failed"; fi
fi

GOLDEN_DIR=../shared/golden
[[ -d "$GOLDEN_DIR" ]] || GOLDEN_DIR=Tests/OmniZipTestSupport/Fixtures/golden
REQ="$GOLDEN_DIR/public-027-s2-p20-d16.request.safetensors"
[[ -f "$REQ" ]] || REQ="$(find "$GOLDEN_DIR" -name '*.request.safetensors' | sort | head -1)"
EXP="${REQ%.request.safetensors}.expected.safetensors"
out="$(curl -sS -m 30 -o "$WORK/response" -w '%{http_code} %{content_type}' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$REQ" "$URL/v1/compress" || true)"
if [[ "$out" == "200 application/octet-stream"* ]]; then ok "POST /v1/compress $(basename "$REQ") -> $out"
else ko "POST /v1/compress $(basename "$REQ") -> '$out' (body: $(head -c 300 "$WORK/response" 2>/dev/null))"; fi
if python3 - "$WORK/response" "$EXP" <<'PY'
import json, struct, sys
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    data = b[8 + n:]
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in head.items() if k != "__metadata__"}
got, exp = load(sys.argv[1]), load(sys.argv[2])
print("response tensors:", ", ".join(sorted(got)))
common = [k for k in ("keep_mask", "merged_index") if k in got and k in exp]
bad = [k for k in common if got[k] != exp[k]]
if not common or bad:
    print("mismatch in", bad or "no comparable tensor"); sys.exit(1)
print("identical to the golden expectation:", ", ".join(common))
PY
then ok "response is safetensors matching $(basename "$EXP")"; else ko "response is not the golden result"; fi

# --- 6. SIGTERM with a request in flight -----------------------------------------------------
size="$(stat -c %s "$REQ")"
rate=$(( size / 3 > 1024 ? size / 3 : 1024 ))   # ~3 s upload
curl -sS -m 60 -o "$WORK/slow" -w '%{http_code}' --limit-rate "$rate" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$REQ" "$URL/v1/compress" >"$WORK/slow.code" 2>&1 &
slow=$!
sleep 1
t0="$(date +%s.%N)"
kill -TERM "$init_pid"
sleep 0.3
during="$(code -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$REQ" "$URL/v1/compress")"
echo "a new /v1/compress during the drain -> ${during/000/connection refused}"
if [[ "$during" == 503 || "$during" == 000 ]]; then ok "new work refused while draining ($during)"; else ko "new work during drain -> $during"; fi
wait "$slow" || true
if [[ "$(cat "$WORK/slow.code")" == 200 ]]; then ok "in-flight request (slow upload) finished with 200 after SIGTERM"
else ko "in-flight request after SIGTERM -> $(cat "$WORK/slow.code")"; fi
exited=0
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || { exited=1; break; }; sleep 0.1; done
if [[ $exited == 1 ]]; then
    rc=0; wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    secs="$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")"
    if [[ $rc == 0 ]]; then ok "exit code 0, ${secs} s after SIGTERM"; else ko "exit code $rc after SIGTERM"; fi
else
    ko "still running 10 s after the in-flight request finished"
fi
echo "--- server log (last 15 lines)"; tail -n 15 "$LOG"

echo
echo "smoke-container: $passed passed, $failed failed"
[[ $failed == 0 ]]
