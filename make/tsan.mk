# The server's tests under ThreadSanitizer, in their own scratch folder. The loop thread, the
# Dispatch workers and the completion queue are the only concurrency; TSan checks the hand-offs
# between them. Accesses inside Synchronization.Mutex critical sections are suppressed, and only
# those (scripts/tsan/suppressions.txt), after the reproduction proves again that TSan reports
# them while the lock excludes.
TSAN_BUILD := .build-tsan

.PHONY: test-tsan

test-tsan: deps
	bash scripts/tsan/check-mutex-false-positive.sh
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath scripts/tsan/suppressions.txt)" \
		$(SWIFT) test --scratch-path $(TSAN_BUILD) --sanitize=thread --filter OmniZipServerTests
