# Python client (clients/python): tests against a real server, load script.
# Included from the Makefile; needs a built binary (.build/release/omnizip, or OMNIZIP_BIN).
CLIENT_DIR := clients/python
CLIENT_BENCH_CLIP ?= bench-data/clip-60s.safetensors
CLIENT_BENCH_SECONDS ?= 20
CLIENT_BENCH_CLIENTS ?= 1 2 8

.PHONY: client-test client-bench

## Fresh venv, pip install -e clients/python[test], pytest against `omnizip serve`.
client-test: release huge-pages
	$(REQUIRE_HUGE_PAGES) bash $(CLIENT_DIR)/run-tests.sh

## Load the service with N concurrent clients posting the 60 s clip (starts its own server).
client-bench: release
	@mkdir -p $(dir $(CLIENT_BENCH_CLIP))
	@test -f $(CLIENT_BENCH_CLIP) || $(BIN) bench --emit $(CLIENT_BENCH_CLIP)
	@test -x .venv-client/bin/python || bash -c 'python3 -m venv .venv-client && .venv-client/bin/pip install -q -e $(CLIENT_DIR)'
	.venv-client/bin/python $(CLIENT_DIR)/bench.py --serve $(BIN) --workers 2 --request $(CLIENT_BENCH_CLIP) \
		--seconds $(CLIENT_BENCH_SECONDS) --clients $(CLIENT_BENCH_CLIENTS)
