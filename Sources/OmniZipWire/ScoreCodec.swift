import OmniZipCore

/// The budget plan on the wire: `/v1/score` requests in JSON, answers in JSON or safetensors.
public enum ScoreCodec {
    /// A JSON score request: `{"audio_scores": [...], "audio_chunk_lens": [...],
    /// "video_chunk_lens": [...], "tokens_per_frame": P, ...parameters}`. `video_grid_thw`
    /// may replace `tokens_per_frame`; without a grid the budget base T*P is the video count.
    public static func decodeJSON(_ body: UnsafeRawBufferPointer, overrides: [String: String]) throws(WireError) -> DecodedRequest {
        let request = try JSONLayoutRequest.decode(body, fields: JSONLayoutRequest.layoutFields.union(["audio_scores"]))
        guard let values = request.audioScores else { throw WireError(.missingField, "field 'audio_scores' missing") }
        let scores = values.map { Float($0) }
        let chunks = try request.layout(defaultAudioRuns: scores.isEmpty ? [] : [scores.count], scores: scores)
        // Parameters in the JSON body behave like metadata: the query string overrides them.
        let options = try RequestOptions(metadata: request.parameters, overrides: overrides, metadataSource: "field")
        return DecodedRequest(
            layout: .split, options: options, chunks: chunks, scores: scores, audio: nil, video: nil, dimension: 0,
            promptLength: 0, audioPositions: [], videoPositions: [], promptEmbeddings: nil)
    }

    /// The plan as JSON; doubles print in their shortest round-trip form.
    public static func json(_ request: DecodedRequest, _ plan: BudgetPlan) -> [UInt8] {
        let counts = TokenCounts(request, plan)
        let keepIndex = plan.audio.keep.indices.filter { plan.audio.keep[$0] }
        var s = "{"
        s += "\"layout\":\"\(request.layout.rawValue)\","
        s += "\"audio_keep\":[\(keepIndex.map(String.init).joined(separator: ","))],"
        s += "\"audio_chunk_retention\":[\(plan.audioChunkRetention.map(JSONText.number).joined(separator: ","))],"
        s += "\"video_chunk_ratio\":[\(plan.videoChunkRatio.map(JSONText.number).joined(separator: ","))],"
        s += "\"video_chunk_kept\":[\(plan.videoChunkKept.map(String.init).joined(separator: ","))],"
        s += "\"video_frame_kept\":[\(plan.videoFrameKept.flatMap { $0 ?? [] }.map(String.init).joined(separator: ","))],"
        s += "\"kept_audio\":\(counts.keptAudio),\"kept_video\":\(counts.keptVideo),"
        s += "\"total_audio\":\(counts.totalAudio),\"total_video\":\(counts.totalVideo),"
        s += "\"total\":\(counts.total),\"kept\":\(counts.kept),"
        s += "\"parameters\":" + CompressJSON.parameters(request.options.parameters)
        s += "}\n"
        return Array(s.utf8)
    }

    /// The plan as safetensors tensors, for clients that send `Accept: application/octet-stream`.
    public static func tensors(_ request: DecodedRequest, _ plan: BudgetPlan) -> SafetensorsWriter {
        let counts = TokenCounts(request, plan)
        var writer = SafetensorsWriter(metadata: ResponseEncoder.metadata(request, counts))
        let keepIndex = plan.audio.keep.indices.filter { plan.audio.keep[$0] }
        writer.add("audio_keep", dtype: .i64, shape: [keepIndex.count], elements: keepIndex.map { Int64($0) })
        writer.add("audio_chunk_retention", dtype: .f64, shape: [plan.audioChunkRetention.count], elements: plan.audioChunkRetention)
        writer.add("video_chunk_ratio", dtype: .f64, shape: [plan.videoChunkRatio.count], elements: plan.videoChunkRatio)
        writer.add("video_chunk_kept", dtype: .i64, shape: [plan.videoChunkKept.count], elements: plan.videoChunkKept.map { Int64($0) })
        ResponseEncoder.addFrameKept(plan, into: &writer)
        return writer
    }
}
