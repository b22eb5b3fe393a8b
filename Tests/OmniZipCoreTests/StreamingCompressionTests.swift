import COmniZipKernels

#if canImport(Glibc)
    import Glibc
#endif
import OmniZipSynthetic
import OmniZipTestSupport
import OmniZipWire
import Testing

@testable import OmniZipCore

@Suite("Streaming compression: units run as the body arrives")
struct StreamingCompressionTests {
    /// More than one 128-token tile of pooled audio, an odd D, leftover rows in a video run.
    static let clip = SyntheticClip(chunks: 12, tokensPerFrame: 12, dimension: 37, audioPerChunk: 50, seed: 3)

    /// The memory a body arrives in. Bytes not yet "received" hold 0xFF, which is NaN in every
    /// float type: a unit that read a row before it arrived would fail or change the result.
    final class Arriving {
        let memory: UnsafeMutableRawBufferPointer
        init(count: Int) {
            memory = .allocate(byteCount: count, alignment: 64)
            memory.initializeMemory(as: UInt8.self, repeating: 0xFF)
        }
        deinit { memory.deallocate() }
    }

    /// Streams `body` in pieces of random length (at most `largest`), then finishes.
    func streamed(
        _ body: [UInt8], workers: Int, seed: UInt64, largest: Int, allowBF16: Bool = true, scratchLimit: Int = .max
    ) throws -> CompressionResult {
        let arriving = Arriving(count: body.count)
        let buffer = UnsafeRawBufferPointer(arriving.memory)
        var random = SeededRandom(seed)
        var received = 0
        var stream: StreamingCompression?
        let compressor = Compressor(workers: workers, allowBF16DotProducts: allowBF16, scratchLimit: scratchLimit)
        while received < body.count {
            let n = min(body.count - received, random.int(1...largest))
            body.withUnsafeBytes { source in
                (arriving.memory.baseAddress! + received).copyMemory(from: source.baseAddress! + received, byteCount: n)
            }
            received += n
            if let stream {
                stream.received(received)
            } else if case let .ready(decoded) = RequestPrefix.decode(buffer, received: received, overrides: [:]) {
                let created = try StreamingCompression(
                    decoded.compressionInput(), compressor: compressor, bodyStart: buffer.baseAddress!, keepAlive: arriving)
                created.received(received)
                stream = created
            }
            // Idle workers now and then, as a server has them.
            if let stream, random.int(0...2) == 0 { stream.runReadyUnits { false } }
        }
        let started = try #require(stream, "the prefix never decoded")
        return try started.finish()
    }

    func whole(_ body: [UInt8], allowBF16: Bool = true) throws -> CompressionResult {
        try body.withUnsafeBytes { bytes in
            let decoded = try RequestDecoder.decode(bytes, overrides: [:], requireEmbeddings: true)
            return try Compressor(workers: 1, allowBF16DotProducts: allowBF16).compress(decoded.compressionInput())
        }
    }

    @Test("a stream whose scratch cannot be had is refused when it starts or when it finishes", arguments: [4 << 10, 64 << 10, 256 << 10])
    func scratchRefusal(limit: Int) throws {
        let name = try #require(Golden.cases.first { $0.hasPrefix("public-001") } ?? Golden.cases.first)
        do {
            _ = try streamed(try Golden.request(name), workers: 2, seed: 7, largest: 4096, scratchLimit: limit)
            Issue.record("compressed within \(limit) bytes of scratch")
        } catch let error as OmniZipError {
            guard case .insufficientMemory = error else {
                Issue.record("\(error)")
                return
            }
        }
    }

    func expectSame(_ a: CompressionResult, _ b: CompressionResult) {
        #expect(a.videoKeep == b.videoKeep)
        #expect(a.audioKeep == b.audioKeep)
        #expect(a.mergedAnchors == b.mergedAnchors && a.mergedSources == b.mergedSources)
        #expect(a.mergedEmbeddings.map(\.bitPattern) == b.mergedEmbeddings.map(\.bitPattern))
    }

    @Test(
        "any arrival pattern and worker count gives the whole body's result",
        arguments: [ElementType.bfloat16, .float32, .float16], [1, 2, 4])
    func arrivalInvariance(type: ElementType, workers: Int) throws {
        let body = Self.clip.requestBody(elementType: type)
        let reference = try whole(body)
        #expect(!reference.mergedAnchors.isEmpty && reference.videoKeep.contains(false))
        for (seed, largest) in [(1, 997), (2, 20_000), (3, body.count)] {
            expectSame(try streamed(body, workers: workers, seed: UInt64(seed) &* 31 &+ UInt64(workers), largest: largest), reference)
        }
    }

    @Test("the float32 products stream too (they wait for every pooled audio row)")
    func float32Path() throws {
        let body = Self.clip.requestBody(elementType: .bfloat16)
        expectSame(try streamed(body, workers: 2, seed: 9, largest: 5000, allowBF16: false), try whole(body, allowBF16: false))
    }

    @Test("a NaN row is refused with the whole body's error")
    func nonFinite() throws {
        var body = Self.clip.requestBody(elementType: .float32)
        // The last four bytes are the last video row's last value.
        body.replaceSubrange((body.count - 4)..., with: [0, 0, 0xC0, 0x7F])
        #expect(throws: OmniZipError.self) { try whole(body) }
        var expected: OmniZipError?
        do { _ = try whole(body) } catch { expected = error as? OmniZipError }
        var got: OmniZipError?
        do { _ = try streamed(body, workers: 2, seed: 4, largest: 3000) } catch { got = error as? OmniZipError }
        #expect(got != nil && "\(got!)" == "\(expected!)")
    }

    @Test("idle workers run only ready units; a cancelled stream gives back its scratch and the body")
    func cancellation() throws {
        let body = Self.clip.requestBody(elementType: .bfloat16)
        weak var released: Arriving?
        let compressor = Compressor(workers: 2)
        do {
            let arriving = Arriving(count: body.count)
            released = arriving
            let half = body.count / 2
            body.withUnsafeBytes { arriving.memory.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: half) }
            let buffer = UnsafeRawBufferPointer(arriving.memory)
            guard case let .ready(decoded) = RequestPrefix.decode(buffer, received: half, overrides: [:]) else {
                Issue.record("the prefix did not decode")
                return
            }
            let stream = try StreamingCompression(
                decoded.compressionInput(), compressor: compressor, bodyStart: buffer.baseAddress!, keepAlive: arriving)
            #expect(stream.received(half))
            // A worker wanted elsewhere runs nothing.
            stream.runReadyUnits { true }
            #expect(stream.readyUnits > 0)
            stream.runReadyUnits { false }
            #expect(stream.readyUnits == 0)
            stream.cancel()
            // The scratch goes back once running units return, even while the object is held.
            for _ in 0..<1000 where stream.holdsScratch { usleep(10_000) }
            #expect(!stream.holdsScratch)
        }
        // Units already running hold the memory until they return: wait for them, boundedly.
        for _ in 0..<1000 where released != nil { usleep(10_000) }
        #expect(released == nil)
        #expect(compressor.pool.buffers.retainedBytes > 0)
    }
}
