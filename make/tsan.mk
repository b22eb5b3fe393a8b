# The server's tests under ThreadSanitizer, in their own scratch folder. The loop thread, the
# Dispatch workers and the completion queue are the only concurrency; TSan checks that the
# hand-offs between them (uv_async_send, Mutex) are what the code says.
TSAN_BUILD := .build-tsan

.PHONY: test-tsan

test-tsan: deps
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(TSAN_EXTRA)" \
		$(SWIFT) test --scratch-path $(TSAN_BUILD) --sanitize=thread --filter OmniZipServerTests
