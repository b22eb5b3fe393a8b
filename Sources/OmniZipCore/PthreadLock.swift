#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The project's one lock: a pthread mutex and a condition on it. Memory handed from one
/// thread to another under it (a reused buffer, a body's rows, a completed job) is ordered in
/// a way ThreadSanitizer sees; it cannot see Synchronization.Mutex on Linux, and would report
/// every such hand-over as a race. Shared with the server as `package`.
package final class PthreadLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Inside `locked`: releases the lock until `broadcast`, then holds it again.
    package func wait() { pthread_cond_wait(condition, mutex) }

    /// Inside `locked`: wakes every `wait`.
    package func broadcast() { pthread_cond_broadcast(condition) }
}

/// A value only reached under its own `PthreadLock`.
package final class Locked<Value>: @unchecked Sendable {
    private let lock = PthreadLock()
    private var value: Value

    package init(_ value: Value) { self.value = value }

    package func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        try lock.locked { () throws(E) -> T in try body(&value) }
    }
}
