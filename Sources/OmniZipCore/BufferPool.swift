#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Memory kept between compressions. A worker's scratch is megabytes (rows of D floats) and
/// fresh pages cost a fault each, taken under the process's memory-map lock that all workers
/// share; handing the same buffers to the next request keeps those faults out of every request
/// after the first. At most `retainedLimit` bytes are kept; the rest is freed when returned.
///
/// A buffer's bytes pass from one worker to the next through this lock, so it is a pthread
/// mutex: ThreadSanitizer sees its ordering (it cannot see Synchronization.Mutex on Linux, and
/// would report every reuse of a buffer as a race).
public final class BufferPool: @unchecked Sendable {
    struct Block {
        let base: UnsafeMutableRawPointer
        let bytes: Int
    }

    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var blocks: [Block] = [] // guarded by lock
    private var keptBytes = 0 // guarded by lock
    public let retainedLimit: Int

    public init(retainedLimit: Int = 256 << 20) {
        self.retainedLimit = retainedLimit
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }

    /// The smallest kept block that holds `bytes`, or a new one (64-byte aligned).
    func take(bytes: Int) -> Block {
        let bytes = max(64, bytes)
        let reused: Block? = locked {
            var best: Int?
            for (i, block) in blocks.enumerated() where block.bytes >= bytes {
                if best == nil || block.bytes < blocks[best!].bytes { best = i }
            }
            guard let best else { return nil }
            keptBytes -= blocks[best].bytes
            return blocks.remove(at: best)
        }
        return reused ?? Block(base: .allocate(byteCount: bytes, alignment: 64), bytes: bytes)
    }

    func give(_ block: Block) {
        let kept = locked {
            guard keptBytes + block.bytes <= retainedLimit else { return false }
            blocks.append(block)
            keptBytes += block.bytes
            return true
        }
        if !kept { block.base.deallocate() }
    }

    /// Bytes currently kept for reuse.
    public var retainedBytes: Int { locked { keptBytes } }

    deinit {
        for block in blocks { block.base.deallocate() }
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }
}
