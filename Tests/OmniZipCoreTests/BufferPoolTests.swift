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
            let scratch = Scratch<Float>(1000, from: pool)
            first = scratch.base
        }
        #expect(pool.retainedBytes == 4000)
        let smaller = Scratch<Float>(10, from: pool)
        #expect(smaller.base == first)
        #expect(pool.retainedBytes == 0)
        let another = Scratch<Float>(10, from: pool)
        #expect(another.base != first)
    }

    @Test("The smallest kept buffer that fits is chosen")
    func bestFit() {
        let pool = BufferPool()
        var small: UnsafeMutablePointer<Float>?
        do {
            let large = Scratch<Float>(4096, from: pool), medium = Scratch<Float>(512, from: pool)
            small = medium.base
            _ = large
        }
        #expect(Scratch<Float>(100, from: pool).base == small)
    }

    @Test("Nothing beyond the limit is kept")
    func limit() {
        let pool = BufferPool(retainedLimit: 6000)
        do {
            let a = Scratch<Float>(1000, from: pool), b = Scratch<Float>(1000, from: pool)
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
