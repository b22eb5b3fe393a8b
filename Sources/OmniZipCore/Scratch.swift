/// A reusable buffer borrowed from a `BufferPool` and given back when released. Its contents
/// on arrival are whatever the last user left: every user writes before it reads. nil when the
/// memory cannot be had: the request gets `OmniZipError.insufficientMemory`, the process lives.
final class Scratch<Element> {
    let base: UnsafeMutablePointer<Element>
    let capacity: Int
    private let block: BufferPool.Block
    private let pool: BufferPool

    init?(_ capacity: Int, from pool: BufferPool) {
        self.capacity = max(1, capacity)
        self.pool = pool
        let (bytes, overflow) = self.capacity.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard !overflow, let block = pool.take(bytes: bytes) else { return nil }
        self.block = block
        base = block.base.bindMemory(to: Element.self, capacity: self.capacity)
    }

    deinit { pool.give(block) }
}

extension Scratch {
    /// The scratch, or the refusal naming what could not be had.
    static func required(_ capacity: Int, from pool: BufferPool) throws(OmniZipError) -> Scratch {
        guard let scratch = Scratch(capacity, from: pool) else {
            throw .insufficientMemory(bytes: capacity.multipliedReportingOverflow(by: MemoryLayout<Element>.stride).partialValue)
        }
        return scratch
    }
}
