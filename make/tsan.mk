# The server's tests under ThreadSanitizer, in their own scratch folder. The loop thread, the
# Dispatch workers and the completion queue are the only concurrency; TSan checks the hand-offs
# between them. Accesses inside Synchronization.Mutex critical sections are suppressed, and only
# those (scripts/tsan/suppressions.txt), after the reproduction proves again that TSan reports
# them while the lock excludes. One test at a time: under TSan's slowdown, 19 suites' servers,
# clients and compressions sharing 2 cores starved some uploads below the server's minimum rate
# (408) in about one run in five; serial, the suite takes about 100 s instead of 80.
TSAN_BUILD := .build-tsan

.PHONY: test-tsan

test-tsan: deps
	bash scripts/tsan/check-mutex-false-positive.sh
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath scripts/tsan/suppressions.txt)" \
		$(SWIFT) test --scratch-path $(TSAN_BUILD) --sanitize=thread --no-parallel --filter OmniZipServerTests
