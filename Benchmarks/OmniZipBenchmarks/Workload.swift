import OmniZipCore
import OmniZipSynthetic
import OmniZipWire

/// The workload `omnizip bench` times by default: the 60-second clip as a BF16 request,
/// D = 3584, default parameters, compressed by two workers (the cores of this machine kind).
enum Clip60s {
    static let clip = SyntheticClip.oneMinute
    static let workers = 2

    static func body() -> RequestBody { RequestBody(clip.requestBody(elementType: .bfloat16)) }
}

/// A request body in memory of its own. Decoding is in place, so every decoded request points
/// into this buffer; the class keeps it alive for as long as the benchmark holds its setup.
final class RequestBody: @unchecked Sendable { // immutable after init
    let bytes: UnsafeRawBufferPointer

    init(_ body: [UInt8]) {
        // 16-byte aligned, as the array `omnizip bench` decodes from.
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: body.count, alignment: 16)
        body.withUnsafeBytes { storage.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(storage)
    }

    deinit { bytes.deallocate() }

    func decode() throws -> DecodedRequest { try RequestDecoder.decode(bytes, requireEmbeddings: true) }
}

/// The clip decoded beside a running two-worker pool, so a benchmark measures only its step.
struct DecodedClip: Sendable {
    let body: RequestBody
    let request: DecodedRequest
    let input: CompressionInput
    let compressor: Compressor

    init() throws {
        body = Clip60s.body()
        request = try body.decode()
        input = try request.compressionInput()
        compressor = Compressor(workers: Clip60s.workers)
    }

    func compress() throws -> CompressionResult { try compressor.compress(input) }
}

/// What the response encoders start from: the decoded clip and its compression result.
struct CompressedClip: Sendable {
    let clip: DecodedClip
    let result: CompressionResult

    init() throws {
        clip = try DecodedClip()
        result = try clip.compress()
    }
}
