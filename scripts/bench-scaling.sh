#!/usr/bin/env bash
# Parallel scaling of the core: `omnizip bench` at 1..N workers (N = this machine's cores, or
# $MAX_WORKERS), for each standard clip. Prints the median per worker count, the speed-up over
# one worker and the parallel efficiency (T1 / (k * Tk)). Runs unchanged on any core count.
#
#   scripts/bench-scaling.sh [BIN]     (ITERATIONS=15 WORKLOADS="one-minute five-minutes")
set -euo pipefail
BIN=${1:-.build/release/omnizip}
MAX_WORKERS=${MAX_WORKERS:-$(nproc)}
ITERATIONS=${ITERATIONS:-15}
WORKLOADS=${WORKLOADS:-one-minute five-minutes}

[ -x "$BIN" ] || { echo "bench-scaling: no binary at $BIN (make release)" >&2; exit 1; }
echo "bench-scaling: $(nproc) cores, workers 1..$MAX_WORKERS, $ITERATIONS iterations each (medians)"
for workload in $WORKLOADS; do
    iterations=$ITERATIONS
    # The five-minute clip takes seconds per run at one worker: fewer runs keep this bounded.
    [ "$workload" = five-minutes ] && iterations=$(( ITERATIONS < 5 ? ITERATIONS : 5 ))
    printf '\n%-13s %7s %10s %8s %10s\n' workload workers median_ms speedup efficiency
    t1=
    for ((k = 1; k <= MAX_WORKERS; k++)); do
        median=$("$BIN" bench --workload "$workload" --workers "$k" --iterations "$iterations" \
            | awk -v w="$workload" '$1 == w { print $5 }')
        [ -n "$median" ] || { echo "bench-scaling: no median for $workload at $k workers" >&2; exit 1; }
        [ -n "$t1" ] || t1=$median
        awk -v w="$workload" -v k="$k" -v t="$median" -v t1="$t1" \
            'BEGIN { printf "%-13s %7d %10.1f %8.2f %10.2f\n", w, k, t, t1 / t, t1 / (k * t) }'
    done
done
