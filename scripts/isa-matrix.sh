#!/usr/bin/env bash
# The core's suites (golden parity, exact budget, kernels, compressor, streaming) under every
# kernel path: OMNIZIP_ISA forces each one this CPU runs; a path it cannot run is reported as
# not run, with the reason, never as passed. Runs the tests `swift test` already built.
#   bash scripts/isa-matrix.sh [SWIFT]
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${1:-swift}
suites='GoldenParityTests|ExactGoldenTests|KernelTests|CompressorTests|StreamingCompressionTests'
bin=.build/debug/omnizip
[[ -x $bin ]] || { echo "isa-matrix: no $bin (run swift build or make test-swift first)" >&2; exit 1; }
best=$("$bin" bench --print-isa)
status=0
rows=()
for isa in scalar avx2 avx512 avx512bf16; do
    if ! OMNIZIP_ISA=$isa "$bin" bench --print-isa >/dev/null 2>&1; then
        rows+=("$isa|not run: this CPU's best path is $best|-|-")
        continue
    fi
    log=$(mktemp)
    start=$(date +%s%N)
    OMNIZIP_ISA=$isa "$swift" test --skip-build --filter "$suites" >"$log" 2>&1 && result=passed || result=FAILED
    ms=$((($(date +%s%N) - start) / 1000000))
    tests=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} .*/\1/p' "$log" | tail -n 1)
    if [[ $result == passed && ${tests:-0} -eq 0 ]]; then result="FAILED (no test ran)"; fi
    if [[ $result != passed ]]; then status=1; grep -E "✘|error|failed" "$log" | head -n 20 >&2; fi
    rows+=("$isa|$result|${tests:-0}|$((ms / 1000)).$((ms % 1000 / 100))")
    rm -f "$log"
done
printf '%-11s %-42s %6s %8s\n' path result tests seconds
for row in "${rows[@]}"; do
    IFS='|' read -r isa result tests seconds <<<"$row"
    printf '%-11s %-42s %6s %8s\n' "$isa" "$result" "$tests" "$seconds"
done
exit $status
