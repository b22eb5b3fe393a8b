#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import OmniZipCore

/// Heap bytes at a stable address, for libuv reads and writes and for parsing requests in place.
/// Never shared while written; ownership moves with the buffer: the loop fills a request body and
/// then hands it to one worker, which only reads it; a worker fills a response body and hands it
/// to the loop, which only reads it. The completion queue's lock orders those hand-overs.
final class ByteBuffer: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity: Int
    private(set) var count = 0
    /// Where the memory came from and goes back to, when it is a reused block.
    private var block: (pool: BufferPool, block: BufferPool.Block)?
    /// A read-only mapping of a client's sealed memfd (`SealedMemfd`), unmapped at the end.
    private var mapped = false
    /// A compression reads the bytes in place as they arrive (`pin`): the memory may no longer
    /// move, so `append` may only count bytes read into place or copy within the capacity.
    private(set) var pinned = false

    private static let unmapping = DispatchQueue(label: "omnizip.unmap", qos: .utility)

    /// From now on the memory stays where it is, for as long as the buffer lives.
    func pin() { pinned = true }

    /// nil when the memory cannot be had (a client must not be able to crash us with a header).
    init?(capacity: Int) {
        self.capacity = max(0, capacity)
        if self.capacity == 0 {
            base = nil
            return
        }
        guard let memory = malloc(self.capacity) else { return nil }
        base = memory
    }

    /// A large buffer from `pool`: a block a finished request gave back, when one fits, so its
    /// pages are already mapped. A fresh 62 MB body costs 15,000 page faults while the socket
    /// is read into it (half the transfer's time here); a reused one costs none.
    /// Sizes are rounded up to whole MiB so that bodies of nearly the same length share blocks.
    init?(capacity: Int, reusing pool: BufferPool) {
        let rounded = (max(1, capacity) + (1 << 20) - 1) & ~((1 << 20) - 1)
        guard let taken = pool.take(bytes: rounded, largest: rounded + rounded / 4) else { return nil }
        base = taken.base
        self.capacity = taken.bytes
        block = (pool, taken)
    }

    /// A complete body of `length` bytes at the start of a read-only mapping of `mappedBytes`
    /// (a hugetlbfs file is a whole number of huge pages): nothing may be written or appended.
    init(mapping base: UnsafeMutableRawPointer, length: Int, mappedBytes: Int) {
        self.base = base
        capacity = mappedBytes
        count = length
        mapped = true
        pinned = true
    }

    /// A mapped body's pages, faulted in by the pool's workers side by side before the work
    /// reads them (MADV_POPULATE_READ, Linux 5.14; elsewhere the work faults them itself). Taken
    /// one at a time in the middle of a compression, the faults of a 62 MB body cost it 8 ms
    /// here; populated first, 3-4 ms.
    func populate(on pool: WorkerPool) {
        guard mapped, let base, count > 0 else { return }
        let chunk = 4 << 20, count = count
        pool.run(units: (count + chunk - 1) / chunk, prepare: { _ in () }) { _, unit in
            let start = unit * chunk
            _ = madvise(base + start, min(chunk, count - start), 22) // MADV_POPULATE_READ
        }
    }

    convenience init?(copying bytes: [UInt8]) {
        self.init(capacity: bytes.count)
        bytes.withUnsafeBytes { raw in
            if let source = raw.baseAddress, let base { memcpy(base, source, raw.count) }
        }
        count = bytes.count
    }

    deinit {
        if mapped {
            // Unmapping 62 MB walks 15,000 page-table entries (3 ms): neither the loop thread nor
            // the answer waits for it.
            let address = UInt(bitPattern: base), length = capacity
            Self.unmapping.async { _ = munmap(UnsafeMutableRawPointer(bitPattern: address), length) }
        } else if let block {
            block.pool.give(block.block)
        } else {
            free(base)
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Free space after the bytes written so far (where a direct socket read may land).
    var tail: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base.map { $0 + count }, count: mapped ? 0 : capacity - count)
    }

    /// Appends `n` bytes, growing geometrically up to `limit`; false past the limit or when
    /// memory runs out. Bytes a socket read put in place already (at `tail`) are just counted.
    func append(_ source: UnsafeRawPointer, count n: Int, limit: Int) -> Bool {
        guard n > 0 else { return true }
        guard !mapped else { return false } // read-only, and complete (its padding is not room)
        if let base, source == UnsafeRawPointer(base + count), count + n <= capacity {
            count += n
            return true
        }
        guard n <= limit - count else { return false }
        if count + n > capacity {
            // Streams start only on Content-Length bodies, whose buffer holds the whole length.
            precondition(!pinned, "a pinned body buffer cannot grow: a compression reads it in place")
            let wanted = min(limit, max(count + n, capacity * 2, 64 << 10))
            if let reused = block {
                // A pool's block is not realloc's to move: copy out and give it back.
                guard let grown = malloc(wanted) else { return false }
                memcpy(grown, reused.block.base, count)
                reused.pool.give(reused.block)
                block = nil
                base = grown
            } else {
                guard let grown = realloc(base, wanted) else { return false }
                base = grown
            }
            capacity = wanted
        }
        guard let base else { return false }
        memcpy(base + count, source, n)
        count += n
        return true
    }

    /// Lets a writer that filled `base` directly (a serializer) record how much it wrote.
    func setCount(_ n: Int) {
        precondition(n >= 0 && n <= capacity, "ByteBuffer.setCount past capacity")
        count = n
    }
}
