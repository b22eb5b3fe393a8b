// ThreadSanitizer and Synchronization.Mutex on Linux: the minimal reproduction behind
// suppressions.txt. Two threads add 1 to a counter 100,000 times each inside Mutex.withLock.
// TSan reports a "Swift access race" on the counter, yet the total is always exactly 200,000:
// the lock excludes (Mutex waits on a futex through a raw syscall, which TSan does not
// intercept, so it never sees the happens-before edge). make test-tsan runs this first and
// requires both the report and the exact total, so the suppressions stay justified.
import Dispatch
import Synchronization

final class Box: @unchecked Sendable { let counter = Mutex(0) }
let box = Box()
let group = DispatchGroup()
for _ in 0..<2 {
    DispatchQueue.global().async(group: group) {
        for _ in 0..<100_000 { box.counter.withLock { $0 += 1 } }
    }
}
group.wait()
let total = box.counter.withLock { $0 }
print("total", total, total == 200_000 ? "(mutual exclusion held)" : "(LOST UPDATES)")
