import Synchronization

/// Memory kept between compressions. A worker's scratch is megabytes (rows of D floats) and
/// fresh pages cost a fault each, taken under the process's memory-map lock that all workers
/// share; handing the same buffers to the next request keeps those faults out of every request
/// after the first. At most `retainedLimit` bytes are kept; the rest is freed when returned.
public final class BufferPool: Sendable {
    struct Block: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let bytes: Int
    }

    private let free = Mutex<(blocks: [Block], bytes: Int)>(([], 0))
    public let retainedLimit: Int

    public init(retainedLimit: Int = 256 << 20) {
        self.retainedLimit = retainedLimit
    }

    /// The smallest kept block that holds `bytes`, or a new one (64-byte aligned).
    func take(bytes: Int) -> Block {
        let bytes = max(64, bytes)
        let reused: Block? = free.withLock { free in
            var best: Int?
            for (i, block) in free.blocks.enumerated() where block.bytes >= bytes {
                if best == nil || block.bytes < free.blocks[best!].bytes { best = i }
            }
            guard let best else { return nil }
            free.bytes -= free.blocks[best].bytes
            return free.blocks.remove(at: best)
        }
        return reused ?? Block(base: .allocate(byteCount: bytes, alignment: 64), bytes: bytes)
    }

    func give(_ block: Block) {
        let kept = free.withLock { free in
            guard free.bytes + block.bytes <= retainedLimit else { return false }
            free.blocks.append(block)
            free.bytes += block.bytes
            return true
        }
        if !kept { block.base.deallocate() }
    }

    /// Bytes currently kept for reuse.
    public var retainedBytes: Int { free.withLock { $0.bytes } }

    deinit {
        free.withLock { free in
            for block in free.blocks { block.base.deallocate() }
        }
    }
}
