# libFuzzer targets (Fuzz/): request decoding (safetensors and JSON), the connection's protocol
# core driven directly (bytes in, actions out, no socket), and the HTTP request path through a
# real in-process server. Built with -sanitize=fuzzer,address in their own scratch
# folder; each runs FUZZ_SECONDS on a copy of its committed seed corpus (Fuzz/corpus/NAME), so
# the corpus in git only grows when someone copies new inputs in on purpose.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzRequestDecoding FuzzConnectionCore FuzzHTTP
# FuzzHTTP's server lives on its own thread across inputs, and Swift keeps a weak reference's
# side table behind a tagged pointer in the object header that LeakSanitizer cannot follow, so
# every live connection's side table reads as a "direct leak" there; its leaks are not checked
# (FuzzRequestDecoding's are). ASan's memory errors are checked in both.
FUZZ_BUILD := .build-fuzz
FUZZ_WORK := $(FUZZ_BUILD)/work

.PHONY: fuzz fuzz-build

fuzz-build: deps
	@set -e; for t in $(FUZZ_TARGETS); do \
		OMNIZIP_FUZZ=1 $(SWIFT) build --scratch-path $(FUZZ_BUILD) -c debug \
			-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product $$t; \
	done

## Run every fuzzer for FUZZ_SECONDS (default 60); fails on the first crash, leak or timeout.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_WORK)/$$t && mkdir -p $(FUZZ_WORK)/$$t/corpus $(FUZZ_WORK)/$$t/artifacts; \
		cp Fuzz/corpus/$$t/* $(FUZZ_WORK)/$$t/corpus/; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		flags=; [ $$t = FuzzHTTP ] && flags=-detect_leaks=0; \
		status=0; $(FUZZ_BUILD)/debug/$$t $(FUZZ_WORK)/$$t/corpus -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
			-max_len=65536 -print_final_stats=1 $$flags -artifact_prefix=$(FUZZ_WORK)/$$t/artifacts/ > $(FUZZ_WORK)/$$t/log 2>&1 || status=$$?; \
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' $(FUZZ_WORK)/$$t/log || true; \
		if [ $$status -ne 0 ] || ls $(FUZZ_WORK)/$$t/artifacts/* >/dev/null 2>&1; then \
			echo "fuzz: $$t failed (exit $$status); log: $(FUZZ_WORK)/$$t/log"; tail -n 40 $(FUZZ_WORK)/$$t/log; exit 1; fi; \
	done; echo "fuzz: no crash"
