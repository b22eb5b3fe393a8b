#if canImport(Glibc)
    import Glibc
#endif
import OmniZipCore
import Testing

@testable import OmniZipServer

@Suite("Body buffers")
struct ByteBufferTests {
    @Test("A released large body's block serves the next body of about the same length")
    func reuse() throws {
        let pool = BufferPool()
        var first: UnsafeMutableRawPointer?
        do {
            let body = try #require(ByteBuffer(capacity: 3 << 20, reusing: pool))
            first = body.base
            #expect(body.capacity == 3 << 20)
        }
        #expect(pool.retainedBytes == 3 << 20)
        let next = try #require(ByteBuffer(capacity: (3 << 20) - 12_345, reusing: pool))
        #expect(next.base == first)
        #expect(pool.retainedBytes == 0)
        // Much smaller bodies do not take a block four times their size.
        let small = try #require(ByteBuffer(capacity: 100, reusing: pool))
        #expect(small.capacity == 1 << 20)
    }

    @Test("A reused block that must grow is copied out and given back")
    func growth() throws {
        let pool = BufferPool()
        let body = try #require(ByteBuffer(capacity: 10, reusing: pool))
        // Filled through a pointer: a 3 MiB `map` takes seconds in a debug build.
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        bytes.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = UInt8(truncatingIfNeeded: i &* 7) } }
        bytes.withUnsafeBytes { raw in
            let half = (1 << 20) - 3
            #expect(body.append(raw.baseAddress!, count: half, limit: 8 << 20))
            #expect(pool.retainedBytes == 0)
            #expect(body.append(raw.baseAddress! + half, count: raw.count - half, limit: 8 << 20))
        }
        #expect(pool.retainedBytes == 1 << 20)
        #expect(body.count == bytes.count && bytes.withUnsafeBytes { memcmp($0.baseAddress!, body.bytes.baseAddress!, bytes.count) } == 0)
    }

    /// A compression reads a streamed body in place: moving it would pull the rows from under it.
    @Test("a pinned buffer cannot grow: the process stops rather than move it")
    func pinnedCannotGrow() async {
        await #expect(processExitsWith: .failure) {
            let body = ByteBuffer(capacity: 16)!
            body.pin()
            let bytes = [UInt8](repeating: 1, count: 32)
            _ = bytes.withUnsafeBytes { body.append($0.baseAddress!, count: 32, limit: 1 << 20) }
        }
    }

    /// A huge-page memfd's mapping runs past the body to its last huge page: that padding is
    /// read-only and not room to append into.
    @Test("a mapped body takes no more bytes, not even into its mapping's padding")
    func mappedTakesNothing() throws {
        let page = 4096
        let memory = try #require(mmap(nil, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        let body = ByteBuffer(mapping: memory, length: page + 10, mappedBytes: 2 * page)
        #expect(body.count == page + 10 && body.bytes.count == page + 10)
        #expect(body.tail.count == 0)
        let bytes = [UInt8](repeating: 1, count: 16)
        #expect(!bytes.withUnsafeBytes { body.append($0.baseAddress!, count: 16, limit: 1 << 20) })
        #expect(body.count == page + 10)
    }

    @Test("a pinned buffer still counts bytes read into place")
    func pinnedCounts() throws {
        let body = try #require(ByteBuffer(capacity: 1024))
        body.pin()
        let tail = try #require(body.tail.baseAddress)
        tail.initializeMemory(as: UInt8.self, repeating: 7, count: 100)
        #expect(body.append(tail, count: 100, limit: 1024))
        #expect(body.count == 100 && body.bytes.allSatisfy { $0 == 7 })
    }
}
