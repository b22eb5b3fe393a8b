import Foundation
import OmniZipCore

/// The budget plan on the wire: `/v1/score` requests in JSON, answers in JSON or safetensors.
public enum ScoreCodec {
    /// A JSON score request: `{"audio_scores": [...], "audio_chunk_lens": [...],
    /// "video_chunk_lens": [...], "tokens_per_frame": P, ...parameters}`. `video_grid_thw`
    /// may replace `tokens_per_frame`; without a grid the budget base T*P is the video count.
    public static func decodeJSON(_ body: UnsafeRawBufferPointer, overrides: [String: String]) throws(WireError) -> DecodedRequest {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(body), options: []) as? [String: Any] else {
                throw WireError("invalid_json", "the body must be a JSON object")
            }
            object = parsed
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError("invalid_json", "the body is not valid JSON: \(error.localizedDescription)")
        }
        let known: Set<String> = Set(["audio_scores", "audio_chunk_lens", "video_chunk_lens", "tokens_per_frame", "video_grid_thw"])
            .union(RequestOptions.overrideNames)
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw WireError("unexpected_field", "field '\(unknown)' is not part of a score request; expected \(known.sorted().joined(separator: ", "))")
        }
        let scores = try numbers(object, "audio_scores").map { Float($0) }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw WireError("invalid_value", "field 'audio_scores'[\(bad)] is not a finite float32")
        }
        let audioRuns = try integers(object, "audio_chunk_lens", default: scores.isEmpty ? [] : nil)
        let videoRuns = try integers(object, "video_chunk_lens", default: [])
        for (name, runs) in [("audio_chunk_lens", audioRuns), ("video_chunk_lens", videoRuns)] {
            if let bad = runs.firstIndex(where: { $0 <= 0 || $0 > 1 << 40 }) {
                throw WireError("invalid_value", "field '\(name)'[\(bad)] is \(runs[bad]); chunk lengths must be positive")
            }
        }
        let videoCount = videoRuns.reduce(0, +)
        let chunks: ChunkLayout
        if object["video_grid_thw"] != nil {
            let grid = try integers(object, "video_grid_thw", default: nil)
            guard grid.count == 3, grid.allSatisfy({ $0 >= 0 && $0 <= 1 << 24 }) else {
                throw WireError("invalid_value", "field 'video_grid_thw' must be [T, H, W] with values in [0, 16777216]")
            }
            do {
                chunks = try ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, grid: (grid[0], grid[1], grid[2]))
            } catch {
                throw .core(error)
            }
            guard chunks.gridTokens == videoCount else {
                throw WireError("inconsistent_shapes", "video_grid_thw \(grid) gives \(chunks.gridTokens) video tokens but video_chunk_lens sums to \(videoCount)")
            }
        } else {
            guard let p = object["tokens_per_frame"] else {
                if videoRuns.isEmpty {
                    chunks = ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: [], tokensPerFrame: 1, gridTokens: 0)
                    return try finish(chunks, scores: scores, object: object, overrides: overrides)
                }
                throw WireError("missing_field", "field 'tokens_per_frame' (or 'video_grid_thw') missing")
            }
            guard let perFrame = integer(p), perFrame > 0, perFrame <= Compressor.maxTokensPerFrame else {
                throw WireError("invalid_value", "field 'tokens_per_frame' must be an integer in [1, \(Compressor.maxTokensPerFrame)]")
            }
            chunks = ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: perFrame, gridTokens: videoCount)
        }
        return try finish(chunks, scores: scores, object: object, overrides: overrides)
    }

    private static func finish(_ chunks: ChunkLayout, scores: [Float], object: [String: Any],
                               overrides: [String: String]) throws(WireError) -> DecodedRequest {
        guard chunks.audioTokenCount == scores.count else {
            throw WireError("inconsistent_shapes", "field 'audio_scores' has \(scores.count) values but audio_chunk_lens sums to \(chunks.audioTokenCount)")
        }
        if chunks.videoTokenCount > 0, chunks.tokensPerFrame > Compressor.maxTokensPerFrame {
            throw WireError("invalid_value", "the grid gives \(chunks.tokensPerFrame) tokens per frame; at most \(Compressor.maxTokensPerFrame) are supported")
        }
        // Parameters in the JSON body behave like metadata: the query string overrides them.
        var fromBody: [String: String] = [:]
        for name in RequestOptions.overrideNames {
            guard let value = object[name] else { continue }
            if let s = value as? String { fromBody[name] = s } else if let n = value as? NSNumber, !(value is Bool) { fromBody[name] = n.stringValue } else {
                throw WireError("invalid_parameter", "field '\(name)' must be a number")
            }
        }
        let options = try RequestOptions(metadata: fromBody, overrides: overrides)
        return DecodedRequest(layout: .split, options: options, chunks: chunks, scores: scores, audio: nil, video: nil, dimension: 0,
                              promptLength: 0, audioPositions: [], videoPositions: [], promptEmbeddings: nil)
    }

    private static func numbers(_ object: [String: Any], _ name: String) throws(WireError) -> [Double] {
        guard let array = object[name] as? [Any] else { throw WireError("missing_field", "field '\(name)' missing or not an array") }
        var out: [Double] = []
        out.reserveCapacity(array.count)
        for (i, v) in array.enumerated() {
            guard let n = v as? NSNumber, !(v is Bool) else { throw WireError("invalid_value", "field '\(name)'[\(i)] is not a number") }
            out.append(n.doubleValue)
        }
        return out
    }

    private static func integers(_ object: [String: Any], _ name: String, default fallback: [Int]?) throws(WireError) -> [Int] {
        guard let raw = object[name] else {
            if let fallback { return fallback }
            throw WireError("missing_field", "field '\(name)' missing")
        }
        guard let array = raw as? [Any] else { throw WireError("invalid_value", "field '\(name)' must be an array of integers") }
        var out: [Int] = []
        for (i, v) in array.enumerated() {
            guard let n = integer(v) else { throw WireError("invalid_value", "field '\(name)'[\(i)] is not an integer") }
            out.append(n)
        }
        return out
    }

    private static func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, !(value is Bool) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9e15 else { return nil }
        return Int(d)
    }

    /// The plan as JSON; doubles print in their shortest round-trip form.
    public static func json(_ request: DecodedRequest, _ plan: BudgetPlan) -> [UInt8] {
        let counts = ResponseEncoder.counts(request, plan)
        let keepIndex = plan.audio.keep.indices.filter { plan.audio.keep[$0] }
        var s = "{"
        s += "\"layout\":\"\(request.layout.rawValue)\","
        s += "\"audio_keep\":[\(keepIndex.map(String.init).joined(separator: ","))],"
        s += "\"audio_chunk_retention\":[\(plan.audioChunkRetention.map(jsonNumber).joined(separator: ","))],"
        s += "\"video_chunk_ratio\":[\(plan.videoChunkRatio.map(jsonNumber).joined(separator: ","))],"
        s += "\"video_chunk_kept\":[\(plan.videoChunkKept.map(String.init).joined(separator: ","))],"
        s += "\"kept_audio\":\(counts.keptAudio),\"kept_video\":\(counts.keptVideo),"
        s += "\"total_audio\":\(counts.totalAudio),\"total_video\":\(counts.totalVideo),"
        s += "\"total\":\(counts.total),\"kept\":\(counts.kept),"
        let p = request.options.parameters
        s += "\"parameters\":{\"rho_audio\":\(jsonNumber(p.rhoAudio)),\"rho_video\":\(jsonNumber(p.rhoVideo)),"
        s += "\"contextual_ratio\":\(jsonNumber(p.contextualRatio)),\"g\":\(p.g)}"
        s += "}\n"
        return Array(s.utf8)
    }

    /// The plan as safetensors tensors, for clients that send `Accept: application/octet-stream`.
    public static func tensors(_ request: DecodedRequest, _ plan: BudgetPlan) -> SafetensorsWriter {
        let counts = ResponseEncoder.counts(request, plan)
        var writer = SafetensorsWriter(metadata: ResponseEncoder.metadata(request, counts))
        let keepIndex = plan.audio.keep.indices.filter { plan.audio.keep[$0] }
        writer.add("audio_keep", dtype: .i64, shape: [keepIndex.count], elements: keepIndex.map { Int64($0) })
        writer.add("audio_chunk_retention", dtype: .f64, shape: [plan.audioChunkRetention.count], elements: plan.audioChunkRetention)
        writer.add("video_chunk_ratio", dtype: .f64, shape: [plan.videoChunkRatio.count], elements: plan.videoChunkRatio)
        writer.add("video_chunk_kept", dtype: .i64, shape: [plan.videoChunkKept.count], elements: plan.videoChunkKept.map { Int64($0) })
        return writer
    }

    static func jsonNumber(_ x: Double) -> String {
        // Swift's description is the shortest string that round-trips; integers keep a ".0".
        x.isFinite ? x.description : "null"
    }
}
