#!/usr/bin/env bash
# `make test`: every step, in order, even after one fails (a failure must not hide the later
# steps' results), then a table of each step's result and time; exits non-zero if any failed.
#   bash scripts/run-test-steps.sh MAKE STEP...
set -uo pipefail
cd "$(dirname "$0")/.."
make_cmd=$1
shift
results=()
failed=0
start_all=$(date +%s)
for step in "$@"; do
    echo "==> make $step"
    start=$(date +%s)
    if $make_cmd --no-print-directory "$step"; then result=passed; else result=FAILED; failed=$((failed + 1)); fi
    results+=("$step|$result|$(($(date +%s) - start))")
done
echo
echo "make test: each step"
printf '  %-22s %-7s %8s\n' step result seconds
for row in "${results[@]}"; do
    IFS='|' read -r step result seconds <<<"$row"
    printf '  %-22s %-7s %8s\n' "$step" "$result" "$seconds"
done
printf '  %-22s %-7s %8s\n' total "" "$(($(date +%s) - start_all))"
echo "steps: $(($# - failed)) passed, $failed failed"
[[ $failed -eq 0 ]]
