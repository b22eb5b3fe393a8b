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
/// A buffer's bytes pass from one worker to the next through this lock, so it is a
/// `PthreadLock`, whose ordering ThreadSanitizer sees.
public final class BufferPool: @unchecked Sendable {
    public struct Block: @unchecked Sendable {
        public let base: UnsafeMutableRawPointer
        public let bytes: Int
    }

    private let lock = PthreadLock()
    private var blocks: [Block] = [] // guarded by lock
    private var keptBytes = 0 // guarded by lock
    private var lent = 0 // guarded by lock
    public let retainedLimit: Int
    /// Bytes that may be lent out at once: past it `take` fails as if memory had run out (an
    /// embedder's cap on scratch, and how the tests reach the out-of-memory paths).
    public let lendingLimit: Int

    public init(retainedLimit: Int = 256 << 20, lendingLimit: Int = .max) {
        self.retainedLimit = retainedLimit
        self.lendingLimit = lendingLimit
    }

    /// The smallest kept block that holds `bytes` (and no more than `largest` bytes), or a new
    /// one of `bytes` (64-byte aligned); nil when the memory cannot be had.
    public func take(bytes: Int, largest: Int = .max) -> Block? {
        let bytes = max(64, bytes)
        enum Source { case kept(Block), fresh, refused }
        let source: Source = lock.locked {
            let room = lendingLimit - lent
            guard bytes <= room else { return .refused }
            var best: Int?
            for (i, block) in blocks.enumerated() where block.bytes >= bytes && block.bytes <= min(largest, room) {
                if best == nil || block.bytes < blocks[best!].bytes { best = i }
            }
            guard let best else {
                lent += bytes
                return .fresh
            }
            let block = blocks.remove(at: best)
            keptBytes -= block.bytes
            lent += block.bytes
            return .kept(block)
        }
        switch source {
        case .refused: return nil
        case let .kept(block): return block
        case .fresh:
            var memory: UnsafeMutableRawPointer?
            guard posix_memalign(&memory, 64, bytes) == 0, let memory else {
                lock.locked { lent -= bytes }
                return nil
            }
            return Block(base: memory, bytes: bytes)
        }
    }

    public func give(_ block: Block) {
        let kept = lock.locked {
            lent -= block.bytes
            guard keptBytes + block.bytes <= retainedLimit else { return false }
            blocks.append(block)
            keptBytes += block.bytes
            return true
        }
        if !kept { free(block.base) }
    }

    /// Frees kept blocks, largest first, until at most `bytes` are kept.
    public func trim(keepingAtMost bytes: Int) {
        let freed: [Block] = lock.locked {
            guard keptBytes > bytes else { return [] }
            blocks.sort { $0.bytes < $1.bytes }
            var freed: [Block] = []
            while keptBytes > bytes, let block = blocks.popLast() {
                keptBytes -= block.bytes
                freed.append(block)
            }
            return freed
        }
        for block in freed { free(block.base) }
    }

    /// Bytes currently kept for reuse.
    public var retainedBytes: Int { lock.locked { keptBytes } }

    /// Bytes taken and not given back yet.
    public var lentBytes: Int { lock.locked { lent } }

    deinit {
        for block in blocks { free(block.base) }
    }
}
