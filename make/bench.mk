# Benchmarks with stored thresholds (Benchmarks/, ordo-one's package-benchmark). Package.swift
# only adds them under OMNIZIP_BENCHMARKS, and they build in their own scratch folder so the
# extra dependencies never touch .build. Allocation counts belong to the toolchain as much as to
# our code, and time to the kernel path (one path is 3x another on the same clip), so the
# thresholds are kept per Swift version and path: Benchmarks/Thresholds/6.3/avx2, ...
BENCH_BUILD := .build-bench
BENCH_SWIFT_VERSION = $(shell $(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
BENCH_THRESHOLDS_ROOT = $(CURDIR)/Benchmarks/Thresholds/$(BENCH_SWIFT_VERSION)
# The path this CPU runs (or OMNIZIP_ISA names), from the release binary.
BENCH_ISA = $(shell $(BIN) bench --print-isa)
BENCH_THRESHOLDS = $(BENCH_THRESHOLDS_ROOT)/$(BENCH_ISA)
# The paths `bench-thresholds` records: every one this CPU runs, unless BENCH_ISAS names some.
BENCH_ISAS ?= $(shell for isa in scalar avx2 avx512 avx512bf16; do OMNIZIP_ISA=$$isa $(BIN) bench --print-isa >/dev/null 2>&1 && echo $$isa; done)
# The CPU a path's thresholds were recorded on (recorded-on, beside them) decides how much CPU
# work may grow: 60% where it is this CPU model running its own best path, so a 2x slowdown
# fails; 150% where the thresholds are an estimate (another core design, or a lower path forced
# on a newer core, which ran AVX2 code 1.6x faster per clock than an EPYC Milan).
BENCH_CPU = $(shell awk -F'\t*: ' '/^vendor_id/{v=$$2} /^cpu family/{f=$$2} /^model\t/{m=$$2} /^model name/{n=$$2} END{printf "%s family %s model %s (%s)", v, f, m, n}' /proc/cpuinfo)
BENCH_TIGHT_PERCENT := 60
BENCH_LOOSE_PERCENT := 150
# OpenBLAS picks its kernels by CPU, not by OMNIZIP_ISA: a lower path is recorded with the
# OpenBLAS kernels a CPU of that path would run.
openblas_core_avx2 := Haswell
openblas_core_avx512 := SkylakeX
BENCHMARK = OMNIZIP_BENCHMARKS=1 $(SWIFT) package --scratch-path $(BENCH_BUILD) --allow-writing-to-package-directory benchmark

.PHONY: bench-check bench-thresholds

## Run the benchmarks once (release), print their percentiles, then compare each p90 with the
## committed thresholds: fails when one is worse than its tolerance. The run is kept as the
## baseline `bench-check` (.benchmarkBaselines/) because the threshold check prints no results.
## Fewer allocations than stored pass, with a reminder to refresh the thresholds.
bench-check: release
	@[ -d "$(BENCH_THRESHOLDS)" ] || { echo "bench-check: no thresholds for kernel path '$(BENCH_ISA)' in $(BENCH_THRESHOLDS_ROOT); record them with 'make bench-thresholds' on a CPU that runs it" >&2; exit 1; }
	@set -o pipefail; log=$(BENCH_BUILD)/bench-check.log; status=0; \
	recorded="$$(cat $(BENCH_THRESHOLDS)/recorded-on 2>/dev/null)"; \
	if [ "$$recorded" = "$(BENCH_CPU), native" ]; then tolerance=$(BENCH_TIGHT_PERCENT); else tolerance=$(BENCH_LOOSE_PERCENT); fi; \
	echo "bench-check: kernel path $(BENCH_ISA) on $(BENCH_CPU); thresholds recorded on $${recorded:-an unknown CPU}: CPU work may grow $$tolerance%"; \
	export OMNIZIP_BENCH_CPU_TOLERANCE=$$tolerance; \
	$(BENCHMARK) baseline update bench-check --no-progress; \
	$(BENCHMARK) baseline read bench-check --no-progress; \
	$(BENCHMARK) thresholds check bench-check --path $(BENCH_THRESHOLDS) --no-progress 2>&1 | tee $$log || status=$$?; \
	if [ $$status -ne 0 ] && grep -q "is BETTER than the defined thresholds" $$log && ! grep -q "WORSE" $$log; then \
		echo "bench-check: better than the thresholds; run 'make bench-thresholds' and commit them to keep the guard tight"; \
	elif [ $$status -ne 0 ]; then echo "bench-check: FAILED (exit $$status), see above"; exit 1; \
	else echo "bench-check: within the thresholds"; fi

## Measure again and overwrite the thresholds for this Swift version, for each kernel path this
## CPU runs (BENCH_ISAS=avx2 for some; commit the result). BENCH_FILTER=REGEX refreshes only
## the matching benchmarks, leaving the others as they were measured.
bench-thresholds: release
	@set -e; for isa in $(BENCH_ISAS); do \
		echo "bench-thresholds: kernel path $$isa"; mkdir -p $(BENCH_THRESHOLDS_ROOT)/$$isa; \
		core=$$(case $$isa in avx2) echo $(openblas_core_avx2);; avx512) echo $(openblas_core_avx512);; esac); \
		env OMNIZIP_ISA=$$isa $${core:+OPENBLAS_CORETYPE=$$core} $(BENCHMARK) thresholds update \
			--path $(BENCH_THRESHOLDS_ROOT)/$$isa --no-progress $(if $(BENCH_FILTER),--filter '$(BENCH_FILTER)'); \
		[ "$$isa" = "$$($(BIN) bench --print-isa)" ] && how=native || how=forced; \
		echo "$(BENCH_CPU), $$how" > $(BENCH_THRESHOLDS_ROOT)/$$isa/recorded-on; \
	done
