/// A reusable buffer borrowed from a `BufferPool` and given back when released. Its contents
/// on arrival are whatever the last user left: every user writes before it reads.
final class Scratch<Element> {
    let base: UnsafeMutablePointer<Element>
    let capacity: Int
    private let block: BufferPool.Block
    private let pool: BufferPool

    init(_ capacity: Int, from pool: BufferPool) {
        self.capacity = max(1, capacity)
        self.pool = pool
        guard let block = pool.take(bytes: self.capacity * MemoryLayout<Element>.stride) else {
            fatalError("out of memory for \(self.capacity) scratch elements")
        }
        self.block = block
        base = block.base.bindMemory(to: Element.self, capacity: self.capacity)
    }

    deinit { pool.give(block) }
}
