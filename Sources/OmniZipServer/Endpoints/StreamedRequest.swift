import OmniZipCore
import OmniZipWire

/// A compress or explain request whose compression started before its body was complete: the
/// request as decoded from its prefix on the loop (the job answers from it rather than decoding
/// the same bytes again), the compression running on it, and (explain) the trace it fills.
struct StreamedRequest: Sendable {
    let decoded: DecodedRequest
    let compression: StreamingCompression
    let trace: CompressionTrace?
}
