/// How much of a request body is needed before compression can start: the safetensors header
/// and every tensor but the embeddings. Decided on a buffer of the body's full length of which
/// only the first `received` bytes are in; nothing past them is read.
public enum RequestPrefix {
    case needMore(bytes: Int)
    /// Decoded; the embeddings' rows point into the buffer and may still be arriving.
    case ready(DecodedRequest)
    /// The body cannot be decoded before it is whole (or not at all), for `reason`: the request
    /// takes the ordinary path, which reports any error.
    case wholeBodyOnly(reason: String)
    /// The header and small tensors are in and make a request the service refuses: the answer
    /// is decided, as the whole-body path would decide it.
    case refused(WireError)

    static let embeddingTensors: Set<String> = ["inputs_embeds", "audio_embeds", "video_embeds"]
    /// The caller decodes on a thread others wait for (a server's event loop): a header larger
    /// than any real request's (a few hundred bytes) is left to the whole-body path, on a worker.
    public static let maxHeaderBytes = 64 << 10

    /// Likewise for the small tensors (8 MiB: `input_ids` of a two-hour clip); decoding them is
    /// linear in their size.
    public static let maxSmallTensorBytes = 8 << 20

    public static func decode(
        _ body: UnsafeRawBufferPointer, received: Int, overrides: [String: String], maxSmallTensorBytes: Int = maxSmallTensorBytes
    ) -> RequestPrefix {
        guard received >= 8 else { return .needMore(bytes: 8) }
        let declared = body.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(min(body.count - 8, maxHeaderBytes)) else {
            return .wholeBodyOnly(reason: "its header declares \(declared) bytes (streamed: at most \(min(body.count - 8, maxHeaderBytes)))")
        }
        let headerEnd = 8 + Int(declared)
        guard received >= headerEnd else { return .needMore(bytes: headerEnd) }
        // The header is parsed here once; a failure is reported by the whole-body path, whose
        // message may quote bytes past those received so far.
        guard let file = try? SafetensorsFile(parsing: body) else { return .wholeBodyOnly(reason: "its header does not parse") }
        let small = file.tensors.filter { !embeddingTensors.contains($0.name) }
        let needed = small.map(\.dataRange.upperBound).max() ?? headerEnd
        // Small tensors after the embeddings: nothing could start before the body is whole.
        guard needed < body.count else { return .wholeBodyOnly(reason: "the embeddings are not its last tensors") }
        guard needed - headerEnd <= maxSmallTensorBytes else {
            return .wholeBodyOnly(reason: "its small tensors take \(needed - headerEnd) bytes (streamed: at most \(maxSmallTensorBytes))")
        }
        guard received >= needed else { return .needMore(bytes: needed) }
        let decoded: DecodedRequest
        do {
            decoded = try RequestDecoder.decode(file, body: body, overrides: overrides, requireEmbeddings: true)
        } catch {
            return .refused(error)
        }
        guard decoded.hasEmbeddings else { return .wholeBodyOnly(reason: "it has no embeddings") }
        return .ready(decoded)
    }
}
