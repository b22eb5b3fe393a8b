#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pthread mutex and a condition on it. Memory handed from one thread to another under it
/// (a reused buffer, a body's rows) is ordered in a way ThreadSanitizer sees: it cannot see
/// Synchronization.Mutex on Linux, and would report every such hand-over as a race.
final class PthreadLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Inside `locked`: releases the lock until `broadcast`, then holds it again.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Inside `locked`: wakes every `wait`.
    func broadcast() { pthread_cond_broadcast(condition) }
}
