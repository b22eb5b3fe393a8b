import OmniZipTestSupport
import Testing

@testable import OmniZipCore

@Suite("Buffer pool")
struct BufferPoolTests {
    @Test("A released buffer is handed to the next taker that fits in it")
    func reuse() {
        let pool = BufferPool()
        var first: UnsafeMutablePointer<Float>?
        do {
            let scratch = Scratch<Float>(1000, from: pool)!
            first = scratch.base
        }
        #expect(pool.retainedBytes == 4000)
        let smaller = Scratch<Float>(10, from: pool)!
        #expect(smaller.base == first)
        #expect(pool.retainedBytes == 0)
        let another = Scratch<Float>(10, from: pool)!
        #expect(another.base != first)
    }

    @Test("The smallest kept buffer that fits is chosen")
    func bestFit() {
        let pool = BufferPool()
        var small: UnsafeMutablePointer<Float>?
        do {
            let large = Scratch<Float>(4096, from: pool)!, medium = Scratch<Float>(512, from: pool)!
            small = medium.base
            _ = large
        }
        #expect(Scratch<Float>(100, from: pool)!.base == small)
    }

    @Test("A kept block larger than the taker's bound is not handed out")
    func largest() throws {
        let pool = BufferPool()
        let big = try #require(pool.take(bytes: 1 << 20))
        pool.give(big)
        let bounded = try #require(pool.take(bytes: 1000, largest: 4000))
        #expect(bounded.base != big.base && bounded.bytes == 1000)
        let unbounded = try #require(pool.take(bytes: 1000))
        #expect(unbounded.base == big.base && unbounded.bytes == 1 << 20)
        pool.give(bounded)
        pool.give(unbounded)
    }

    @Test("Trimming frees the largest kept blocks first")
    func trim() throws {
        let pool = BufferPool()
        let blocks = try [1000, 3000, 2000].map { try #require(pool.take(bytes: $0)) }
        for block in blocks { pool.give(block) }
        #expect(pool.retainedBytes == 6000)
        pool.trim(keepingAtMost: 3500)
        #expect(pool.retainedBytes == 3000)
        let taken = try #require(pool.take(bytes: 1500))
        #expect(taken.bytes == 2000)
        pool.give(taken)
        pool.trim(keepingAtMost: 0)
        #expect(pool.retainedBytes == 0)
    }

    @Test("Past the lending limit take fails, and what is given back can be lent again")
    func lendingLimit() throws {
        let pool = BufferPool(lendingLimit: 10_000)
        let a = try #require(pool.take(bytes: 6000))
        #expect(pool.take(bytes: 6000) == nil, "6,000 more would lend 12,000")
        #expect(Scratch<Float>(1500, from: pool) == nil)
        #expect(pool.lentBytes == 6000)
        pool.give(a)
        #expect(pool.lentBytes == 0 && pool.retainedBytes == 6000)
        // The kept block is lent again; a request larger than the limit never is.
        let again = try #require(pool.take(bytes: 5000))
        #expect(again.base == a.base && pool.lentBytes == 6000)
        pool.give(again)
        #expect(pool.take(bytes: 10_001) == nil && pool.lentBytes == 0)
    }

    @Test("A compression whose scratch cannot be had is refused, and gives back what it took", arguments: [1, 2])
    func scratchRefusal(workers: Int) throws {
        let name = try #require(Golden.cases.first { $0.hasPrefix("public-001") } ?? Golden.cases.first)
        let request = try Golden.request(name)
        // Enough for some of the request's scratch and not all: every stage may be the one that fails.
        for limit in [64, 4 << 10, 64 << 10, 256 << 10] {
            let compressor = Compressor(workers: workers, scratchLimit: limit)
            do {
                _ = try compressGolden(request, compressor: compressor)
                Issue.record("limit \(limit): compressed")
            } catch let error as OmniZipError {
                guard case .insufficientMemory = error else {
                    Issue.record("limit \(limit): \(error)")
                    continue
                }
            }
            #expect(compressor.pool.buffers.lentBytes == 0, "limit \(limit): every block came back")
        }
        // The same compressor type with room for everything keeps parity.
        let response = try compressGolden(request, compressor: Compressor(workers: workers, scratchLimit: 64 << 20))
        #expect(try GoldenParity.mismatches(response: response, expected: TensorBundle(try Golden.expected(name))) == [])
    }

    @Test("Nothing beyond the limit is kept")
    func limit() {
        let pool = BufferPool(retainedLimit: 6000)
        do {
            let a = Scratch<Float>(1000, from: pool)!, b = Scratch<Float>(1000, from: pool)!
            _ = (a, b)
        }
        #expect(pool.retainedBytes == 4000)
    }

    @Test("One compressor through every golden case: reused, dirty scratch keeps parity", arguments: [1, 2])
    func compressionsReuse(workers: Int) throws {
        let compressor = Compressor(workers: workers)
        for name in Golden.cases + Golden.cases.prefix(3) {
            let response = try compressGolden(try Golden.request(name), compressor: compressor)
            let expected = try TensorBundle(try Golden.expected(name))
            #expect(try GoldenParity.mismatches(response: response, expected: expected) == [], "\(name)")
        }
        #expect(compressor.pool.buffers.retainedBytes > 0)
    }
}
