# The server's tests under ThreadSanitizer, in their own scratch folder. The loop thread, the
# Dispatch workers and the completion queue are the only concurrency; TSan checks the hand-offs
# between them. Every lock is the core's PthreadLock, which TSan sees: no suppressions. The
# suites run in parallel, as in `swift test`: the test servers do not impose the production
# minimum upload rate unless a test asks for it, so TSan's slowdown cannot turn into 408s.
TSAN_BUILD := .build-tsan

.PHONY: test-tsan

test-tsan: deps
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		$(SWIFT) test --scratch-path $(TSAN_BUILD) --sanitize=thread --filter OmniZipServerTests
	bash scripts/tsan-sigterm.sh $(TSAN_BUILD)/debug/omnizip
