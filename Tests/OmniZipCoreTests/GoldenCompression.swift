import OmniZipCore
import OmniZipTestSupport
import OmniZipWire

/// Runs one golden request through the wire decoder and the core, as the CLI and server do.
func compressGolden(
    _ request: [UInt8], workers: Int = 2, allowBF16: Bool = true,
    overrides: [String: String] = [:], compressor: Compressor? = nil
) throws -> TensorBundle {
    let compressor = compressor ?? Compressor(workers: workers, allowBF16DotProducts: allowBF16)
    let response = try request.withUnsafeBytes { body in
        let decoded = try RequestDecoder.decode(body, overrides: overrides, requireEmbeddings: true)
        let result = try compressor.compress(try decoded.compressionInput())
        return ResponseEncoder.compress(decoded, result, includeEmbeddings: false).serialized()
    }
    return try TensorBundle(response)
}
