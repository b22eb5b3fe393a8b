import OmniZipCore

/// Builds response tensors. Names follow the golden vectors: `keep_mask`, `merged_index`,
/// `merged_embeds`, `video_chunk_ratio`, `audio_chunk_retention`, plus `kept_index`.
public enum ResponseEncoder {
    /// The `/v1/compress` response. `includeEmbeddings` adds the compressed sequence itself.
    public static func compress(_ request: DecodedRequest, _ result: CompressionResult, includeEmbeddings: Bool) -> SafetensorsWriter {
        let counts = TokenCounts(request, result.plan, merged: result.mergedAnchors.count)
        var writer = SafetensorsWriter(metadata: metadata(request, counts))
        let type = request.embeddingType
        let d = request.dimension
        let indices = CompressIndices(request, result)

        switch request.layout {
        case .interleaved:
            writer.add("keep_mask", dtype: .bool, shape: [indices.keepMask.count], elements: indices.keepMask.map { UInt8($0 ? 1 : 0) })
            writer.add("kept_index", dtype: .i64, shape: [indices.keptIndex.count], elements: indices.keptIndex.map { Int64($0) })
            writer.add("merged_index", dtype: .i64, shape: [indices.mergedIndex.count], elements: indices.mergedIndex.map { Int64($0) })
            if includeEmbeddings, let rows = compressedRows(request, result, indices).first {
                addRows("compressed_embeds", rows, into: &writer)
            }
        case .split:
            let audioKeep = result.audioKeep
            writer.add("audio_keep", dtype: .bool, shape: [audioKeep.count], elements: audioKeep.map { UInt8($0 ? 1 : 0) })
            writer.add("video_keep", dtype: .bool, shape: [result.videoKeep.count], elements: result.videoKeep.map { UInt8($0 ? 1 : 0) })
            writer.add("audio_kept_index", dtype: .i64, shape: [indices.audioKeptIndex.count], elements: indices.audioKeptIndex.map { Int64($0) })
            writer.add("video_kept_index", dtype: .i64, shape: [indices.videoKeptIndex.count], elements: indices.videoKeptIndex.map { Int64($0) })
            writer.add("merged_index", dtype: .i64, shape: [indices.mergedIndex.count], elements: indices.mergedIndex.map { Int64($0) })
            if includeEmbeddings {
                let rows = compressedRows(request, result, indices)
                if rows.count == 2 {
                    addRows("compressed_audio_embeds", rows[0], into: &writer)
                    addRows("compressed_video_embeds", rows[1], into: &writer)
                }
            }
        }
        let m = result.mergedAnchors.count
        writer.add("merged_embeds", dtype: ElementConversion.dtype(type), shape: [m, d], count: m * d * type.byteWidth) { out in
            guard let base = out.baseAddress else { return }
            storeMerged(result, as: type, into: base)
        }
        writer.add("video_chunk_ratio", dtype: .f64, shape: [result.plan.videoChunkRatio.count], elements: result.plan.videoChunkRatio)
        writer.add(
            "audio_chunk_retention", dtype: .f64, shape: [result.plan.audioChunkRetention.count],
            elements: result.plan.audioChunkRetention)
        addFrameKept(result.plan, into: &writer)
        return writer
    }

    /// Writes the merged anchors' values in `type`, little-endian (`M × D × width` bytes).
    static func storeMerged(_ result: CompressionResult, as type: ElementType, into destination: UnsafeMutableRawPointer) {
        result.mergedEmbeddings.withUnsafeBufferPointer { ElementConversion.store($0, as: type, into: destination) }
    }

    /// One compressed sequence: which rows of `source` to copy, and the merged values that
    /// replace some of them (by row, an index into `merged`'s rows).
    struct RowSelection {
        let rows: [Int]
        let source: TokenRows
        let replacing: [Int: Int]
        let merged: [Float]

        var byteCount: Int { rows.count * source.dimension * source.elementType.byteWidth }
        var dtype: SafetensorsDType { ElementConversion.dtype(source.elementType) }
        var shape: [Int] { [rows.count, source.dimension] }

        /// Copies the rows verbatim (their original bytes), substituting merged rows.
        func write(into dst: UnsafeMutableRawPointer) {
            let d = source.dimension, rowBytes = d * source.elementType.byteWidth
            for (k, r) in rows.enumerated() {
                if let m = replacing[r] {
                    merged.withUnsafeBufferPointer { values in
                        ElementConversion.store(
                            UnsafeBufferPointer(rebasing: values[(m * d)..<((m + 1) * d)]), as: source.elementType,
                            into: dst + k * rowBytes)
                    }
                } else {
                    (dst + k * rowBytes).copyMemory(from: source.base + source.rowIndices[r] * rowBytes, byteCount: rowBytes)
                }
            }
        }
    }

    /// The compressed sequences `return=embeds` asks for: `[compressed_embeds]` (interleaved)
    /// or `[audio, video]` (split); empty when the request has no embeddings.
    static func compressedRows(_ request: DecodedRequest, _ result: CompressionResult, _ indices: CompressIndices) -> [RowSelection] {
        switch request.layout {
        case .interleaved:
            guard let prompt = request.promptEmbeddings else { return [] }
            var replacement: [Int: Int] = [:]
            for (m, a) in result.mergedAnchors.enumerated() { replacement[request.audioPositions[a]] = m }
            return [RowSelection(rows: indices.keptIndex, source: prompt, replacing: replacement, merged: result.mergedEmbeddings)]
        case .split:
            guard let audio = request.audio, let video = request.video else { return [] }
            var replacement: [Int: Int] = [:]
            for (m, a) in result.mergedAnchors.enumerated() { replacement[a] = m }
            return [
                RowSelection(rows: indices.audioKeptIndex, source: audio, replacing: replacement, merged: result.mergedEmbeddings),
                RowSelection(rows: indices.videoKeptIndex, source: video, replacing: [:], merged: []),
            ]
        }
    }

    private static func addRows(_ name: String, _ selection: RowSelection, into writer: inout SafetensorsWriter) {
        writer.add(name, dtype: selection.dtype, shape: selection.shape, count: selection.byteCount) { out in
            guard let dst = out.baseAddress else { return }
            selection.write(into: dst)
        }
    }

    /// `video_frame_kept [F]`: each whole frame's kept count, frames in run order (runs kept
    /// whole have none).
    static func addFrameKept(_ plan: BudgetPlan, into writer: inout SafetensorsWriter) {
        let counts = plan.videoFrameKept.flatMap { $0 ?? [] }
        writer.add("video_frame_kept", dtype: .i64, shape: [counts.count], elements: counts.map { Int64($0) })
    }

    static func metadata(_ request: DecodedRequest, _ c: TokenCounts) -> [String: String] {
        [
            "layout": request.layout.rawValue,
            "total": String(c.total), "kept": String(c.kept),
            "total_audio": String(c.totalAudio), "kept_audio": String(c.keptAudio),
            "total_video": String(c.totalVideo), "kept_video": String(c.keptVideo),
            "merged": String(c.merged),
            "rho_audio": String(request.options.parameters.rhoAudio), "rho_video": String(request.options.parameters.rhoVideo),
            "contextual_ratio": String(request.options.parameters.contextualRatio), "g": String(request.options.parameters.g),
            "video_budget": request.options.parameters.videoBudget.rawValue,
        ]
    }
}
