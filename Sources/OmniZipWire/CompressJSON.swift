import OmniZipCore

/// The `/v1/compress` answer as JSON (`Accept: application/json`): the same indices, ratios and
/// counts as the safetensors answer, readable from curl. One member per line so a terminal
/// shows it plainly. No timings (they travel in Server-Timing), so the bytes depend only on
/// the request. Embeddings only on request, as base64 of the request dtype's little-endian
/// bytes (`data_base64_le`), so a reader knows exactly how to decode them.
public enum CompressJSON {
    public static func json(_ request: DecodedRequest, _ result: CompressionResult, includeEmbeddings: Bool) -> [UInt8] {
        let plan = result.plan
        let counts = TokenCounts(request, plan, merged: result.mergedAnchors.count)
        let indices = CompressIndices(request, result)
        var members: [(String, String)] = [("layout", JSONText.string(request.layout.rawValue))]
        switch request.layout {
        case .interleaved:
            members.append(("kept_index", ints(indices.keptIndex)))
        case .split:
            members.append(("audio_kept_index", ints(indices.audioKeptIndex)))
            members.append(("video_kept_index", ints(indices.videoKeptIndex)))
        }
        members += [
            ("merged_index", ints(indices.mergedIndex)),
            ("audio_chunk_retention", doubles(plan.audioChunkRetention)),
            ("video_chunk_ratio", doubles(plan.videoChunkRatio)),
            ("audio_chunk_kept", ints(audioRunKept(request.chunks, result.audioKeep))),
            ("video_chunk_kept", ints(plan.videoChunkKept)),
            ("video_frame_kept", ints(plan.videoFrameKept.flatMap { $0 ?? [] })),
            ("total", String(counts.total)), ("kept", String(counts.kept)),
            ("total_audio", String(counts.totalAudio)), ("kept_audio", String(counts.keptAudio)),
            ("total_video", String(counts.totalVideo)), ("kept_video", String(counts.keptVideo)),
            ("merged", String(counts.merged)),
            ("parameters", parameters(request.options.parameters)),
        ]
        if includeEmbeddings {
            let type = request.embeddingType
            let m = result.mergedAnchors.count
            var merged = [UInt8](repeating: 0, count: m * request.dimension * type.byteWidth)
            merged.withUnsafeMutableBytes { if let base = $0.baseAddress { ResponseEncoder.storeMerged(result, as: type, into: base) } }
            members.append(("merged_embeds", tensor(ElementConversion.dtype(type), [m, request.dimension], merged)))
            let names = request.layout == .interleaved ? ["compressed_embeds"] : ["compressed_audio_embeds", "compressed_video_embeds"]
            for (name, selection) in zip(names, ResponseEncoder.compressedRows(request, result, indices)) {
                var bytes = [UInt8](repeating: 0, count: selection.byteCount)
                bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { selection.write(into: base) } }
                members.append((name, tensor(selection.dtype, selection.shape, bytes)))
            }
        }
        return Array(("{\n" + members.map { "  " + JSONText.string($0.0) + ": " + $0.1 }.joined(separator: ",\n") + "\n}\n").utf8)
    }

    /// Kept audio tokens of each audio run (guided or not), counted from the keep mask.
    public static func audioRunKept(_ chunks: ChunkLayout, _ keep: [Bool]) -> [Int] {
        var start = 0
        return chunks.audioRunLengths.map { length in
            defer { start += length }
            return keep[start..<(start + length)].reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    /// The parameters used, as `/v1/score` and `/v1/budget` print them.
    public static func parameters(_ p: Parameters) -> String { JSONText.object(parameterMembers(p)) }

    /// The members of that object, for objects that add to it (`/v1/info`'s defaults).
    static func parameterMembers(_ p: Parameters) -> [(String, String)] {
        [
            ("rho_audio", JSONText.number(p.rhoAudio)), ("rho_video", JSONText.number(p.rhoVideo)),
            ("contextual_ratio", JSONText.number(p.contextualRatio)), ("g", String(p.g)),
            ("video_budget", JSONText.string(p.videoBudget.rawValue)),
        ]
    }

    private static func tensor(_ dtype: SafetensorsDType, _ shape: [Int], _ bytes: [UInt8]) -> String {
        JSONText.object([
            ("dtype", JSONText.string(dtype.rawValue)), ("shape", ints(shape)), ("data_base64_le", JSONText.string(Base64.encode(bytes))),
        ])
    }

    private static func ints(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }
    private static func doubles(_ values: [Double]) -> String { "[" + values.map(JSONText.number).joined(separator: ",") + "]" }
}
