#!/usr/bin/env bash
# The ThreadSanitizer build of `omnizip serve` drains on SIGTERM like the others: it logs
# "stopped" and exits 0 (it used to ignore the signal: the main thread, parked in a wait TSan
# does not intercept, took it and never ran the handler).
set -euo pipefail
bin=${1:?usage: tsan-sigterm.sh PATH-TO-TSAN-OMNIZIP}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
TSAN_OPTIONS="halt_on_error=1" "$bin" serve --port 0 --log-format text >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q " listening " "$log" && break; sleep 0.1; done
grep -q " listening " "$log" || { echo "tsan-sigterm: the server did not start"; cat "$log"; kill -9 "$pid"; exit 1; }
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
    echo "tsan-sigterm: still running 30 s after SIGTERM"
    kill -9 "$pid"
    exit 1
fi
status=0
wait "$pid" || status=$?
grep -q " stopped" "$log" || { echo "tsan-sigterm: no 'stopped' line (exit $status)"; cat "$log"; exit 1; }
[ "$status" -eq 0 ] || { echo "tsan-sigterm: exit status $status"; cat "$log"; exit 1; }
echo "tsan-sigterm: drained on SIGTERM and exited 0"
