# Benchmarks with stored thresholds (Benchmarks/, ordo-one's package-benchmark). Package.swift
# only adds them under OMNIZIP_BENCHMARKS, and they build in their own scratch folder so the
# extra dependencies never touch .build. Allocation counts belong to the toolchain as much as to
# our code, so the thresholds are kept per Swift version (Benchmarks/Thresholds/6.3, ...).
BENCH_BUILD := .build-bench
BENCH_SWIFT_VERSION = $(shell $(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
BENCH_THRESHOLDS = $(CURDIR)/Benchmarks/Thresholds/$(BENCH_SWIFT_VERSION)
BENCHMARK = OMNIZIP_BENCHMARKS=1 $(SWIFT) package --scratch-path $(BENCH_BUILD) --allow-writing-to-package-directory benchmark

.PHONY: bench-check bench-thresholds

## Run the benchmarks once (release), print their percentiles, then compare each p90 with the
## committed thresholds: fails when one is worse than its tolerance. The run is kept as the
## baseline `bench-check` (.benchmarkBaselines/) because the threshold check prints no results.
## Fewer allocations than stored pass, with a reminder to refresh the thresholds.
bench-check: deps
	$(BENCHMARK) baseline update bench-check --no-progress
	$(BENCHMARK) baseline read bench-check --no-progress
	@set -o pipefail; log=$(BENCH_BUILD)/bench-check.log; status=0; \
	$(BENCHMARK) thresholds check bench-check --path $(BENCH_THRESHOLDS) --no-progress 2>&1 | tee $$log || status=$$?; \
	if [ $$status -ne 0 ] && grep -q "is BETTER than the defined thresholds" $$log && ! grep -q "WORSE" $$log; then \
		echo "bench-check: better than the thresholds; run 'make bench-thresholds' and commit them to keep the guard tight"; \
	elif [ $$status -ne 0 ]; then echo "bench-check: FAILED (exit $$status), see above"; exit 1; \
	else echo "bench-check: within the thresholds"; fi

## Measure again and overwrite the thresholds for this Swift version (commit the result).
## BENCH_FILTER=REGEX refreshes only the matching benchmarks, leaving the others' wall clock as
## it was measured (on a busy machine a full refresh loosens every wall-clock threshold).
bench-thresholds: deps
	mkdir -p $(BENCH_THRESHOLDS)
	$(BENCHMARK) thresholds update --path $(BENCH_THRESHOLDS) --no-progress $(if $(BENCH_FILTER),--filter '$(BENCH_FILTER)')
