import OmniZipCore

/// `/v1/budget` on the wire: sizes and parameters in JSON, the exact-budget totals out.
public enum BudgetCodec {
    public struct Request: Sendable, Equatable {
        public var layout: ChunkLayout
        public var parameters: Parameters
    }

    /// `{"audio_chunk_lens": [...], "video_chunk_lens": [...], "tokens_per_frame": P, ...parameters}`;
    /// `video_grid_thw` may replace `tokens_per_frame`. The query string overrides body parameters.
    public static func decodeJSON(_ body: UnsafeRawBufferPointer, overrides: [String: String]) throws(WireError) -> Request {
        let request = try JSONLayoutRequest.decode(body, fields: JSONLayoutRequest.layoutFields)
        guard request.audioChunkLens != nil || request.videoChunkLens != nil else {
            throw WireError(.missingField, "field 'audio_chunk_lens' or 'video_chunk_lens' missing")
        }
        let layout = try request.layout(defaultAudioRuns: [], scores: nil)
        let options = try RequestOptions(metadata: request.parameters, overrides: overrides, metadataSource: "field")
        // The totals are only known from sizes under the exact budget; saying otherwise is a mistake.
        if request.parameters["video_budget"] != nil || overrides["video_budget"] != nil, options.parameters.videoBudget != .exact {
            throw WireError(
                .invalidParameter,
                "parameter 'video_budget' must be 'exact' for /v1/budget (the reference budget depends on the audio scores; use /v1/score)")
        }
        var parameters = options.parameters
        parameters.videoBudget = .exact
        return Request(layout: layout, parameters: parameters)
    }

    /// Cannot fail: the decoded layout and parameters are valid by construction.
    public static func budget(_ request: Request) -> PlaceholderBudget {
        PlaceholderBudget(layout: request.layout, parameters: request.parameters)
    }

    public static func json(_ request: Request, _ budget: PlaceholderBudget) -> [UInt8] {
        let parameters = CompressJSON.parameters(request.parameters)
        let text = JSONText.object([
            ("kept_audio", String(budget.keptAudio)), ("kept_video", String(budget.keptVideo)),
            ("video_target", String(budget.videoTarget)), ("short_video", String(budget.shortVideo)),
            ("kept", String(budget.kept)), ("total_audio", String(budget.totalAudio)),
            ("total_video", String(budget.totalVideo)), ("total", String(budget.total)),
            ("parameters", parameters),
        ])
        return Array((text + "\n").utf8)
    }
}
