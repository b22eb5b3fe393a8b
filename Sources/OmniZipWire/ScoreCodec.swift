import Foundation
import OmniZipCore

/// The budget plan on the wire: `/v1/score` requests in JSON, answers in JSON or safetensors.
public enum ScoreCodec {
    /// A JSON score request: `{"audio_scores": [...], "audio_chunk_lens": [...],
    /// "video_chunk_lens": [...], "tokens_per_frame": P, ...parameters}`. `video_grid_thw`
    /// may replace `tokens_per_frame`; without a grid the budget base T*P is the video count.
    public static func decodeJSON(_ body: UnsafeRawBufferPointer, overrides: [String: String]) throws(WireError) -> DecodedRequest {
        let request: ScoreJSON
        do {
            request = try JSONDecoder().decode(ScoreJSON.self, from: Data(body))
        } catch let error as WireError {
            throw error
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw WireError("invalid_json", "the body must be a JSON object")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw WireError("invalid_value", "field '\(fieldPath(context.codingPath))' has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.keyNotFound(key, _) {
            throw WireError("missing_field", "field '\(key.stringValue)' missing")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            throw WireError("invalid_value", "field '\(fieldPath(context.codingPath))' is invalid (\(context.debugDescription))")
        } catch {
            throw WireError("invalid_json", "the body is not a valid JSON object")
        }
        let scores = request.audioScores.map { Float($0) }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw WireError("invalid_value", "field 'audio_scores'[\(bad)] is not a finite float32")
        }
        let audioRuns = request.audioChunkLens ?? (scores.isEmpty ? [] : [scores.count])
        let videoRuns = request.videoChunkLens ?? []
        for (name, runs) in [("audio_chunk_lens", audioRuns), ("video_chunk_lens", videoRuns)] {
            if let bad = runs.firstIndex(where: { $0 <= 0 || $0 > 1 << 40 }) {
                throw WireError("invalid_value", "field '\(name)'[\(bad)] is \(runs[bad]); chunk lengths must be positive")
            }
        }
        let videoCount = videoRuns.reduce(0, +)
        let chunks: ChunkLayout
        if let grid = request.videoGridTHW {
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
        } else if let perFrame = request.tokensPerFrame {
            guard perFrame > 0, perFrame <= Compressor.maxTokensPerFrame else {
                throw WireError("invalid_value", "field 'tokens_per_frame' must be an integer in [1, \(Compressor.maxTokensPerFrame)]")
            }
            chunks = ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: perFrame, gridTokens: videoCount)
        } else if videoRuns.isEmpty {
            chunks = ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: [], tokensPerFrame: 1, gridTokens: 0)
        } else {
            throw WireError("missing_field", "field 'tokens_per_frame' (or 'video_grid_thw') missing")
        }
        guard chunks.audioTokenCount == scores.count else {
            throw WireError("inconsistent_shapes", "field 'audio_scores' has \(scores.count) values but audio_chunk_lens sums to \(chunks.audioTokenCount)")
        }
        // Parameters in the JSON body behave like metadata: the query string overrides them.
        let options = try RequestOptions(metadata: request.parameters, overrides: overrides)
        return DecodedRequest(layout: .split, options: options, chunks: chunks, scores: scores, audio: nil, video: nil, dimension: 0,
                              promptLength: 0, audioPositions: [], videoPositions: [], promptEmbeddings: nil)
    }

    private static func fieldPath(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined()
    }

    /// The plan as JSON; doubles print in their shortest round-trip form.
    public static func json(_ request: DecodedRequest, _ plan: BudgetPlan) -> [UInt8] {
        let counts = ResponseEncoder.counts(request, plan)
        let keepIndex = plan.audio.keep.indices.filter { plan.audio.keep[$0] }
        var s = "{"
        s += "\"layout\":\"\(request.layout.rawValue)\","
        s += "\"audio_keep\":[\(keepIndex.map(String.init).joined(separator: ","))],"
        s += "\"audio_chunk_retention\":[\(plan.audioChunkRetention.map(JSONText.number).joined(separator: ","))],"
        s += "\"video_chunk_ratio\":[\(plan.videoChunkRatio.map(JSONText.number).joined(separator: ","))],"
        s += "\"video_chunk_kept\":[\(plan.videoChunkKept.map(String.init).joined(separator: ","))],"
        s += "\"kept_audio\":\(counts.keptAudio),\"kept_video\":\(counts.keptVideo),"
        s += "\"total_audio\":\(counts.totalAudio),\"total_video\":\(counts.totalVideo),"
        s += "\"total\":\(counts.total),\"kept\":\(counts.kept),"
        let p = request.options.parameters
        s += "\"parameters\":{\"rho_audio\":\(JSONText.number(p.rhoAudio)),\"rho_video\":\(JSONText.number(p.rhoVideo)),"
        s += "\"contextual_ratio\":\(JSONText.number(p.contextualRatio)),\"g\":\(p.g)}"
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
}

/// The JSON score request. Parameters may be numbers or strings; unknown fields are refused.
private struct ScoreJSON: Decodable {
    var audioScores: [Double]
    var audioChunkLens: [Int]?
    var videoChunkLens: [Int]?
    var tokensPerFrame: Int?
    var videoGridTHW: [Int]?
    var parameters: [String: String] = [:]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static let fields: Set<String> = ["audio_scores", "audio_chunk_lens", "video_chunk_lens", "tokens_per_frame", "video_grid_thw"]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let known = Self.fields.union(RequestOptions.overrideNames)
        if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw WireError("unexpected_field", "field '\(unknown)' is not part of a score request; expected \(known.sorted().joined(separator: ", "))")
        }
        audioScores = try c.decode([Double].self, forKey: Key(stringValue: "audio_scores"))
        audioChunkLens = try c.decodeIfPresent([Int].self, forKey: Key(stringValue: "audio_chunk_lens"))
        videoChunkLens = try c.decodeIfPresent([Int].self, forKey: Key(stringValue: "video_chunk_lens"))
        tokensPerFrame = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "tokens_per_frame"))
        videoGridTHW = try c.decodeIfPresent([Int].self, forKey: Key(stringValue: "video_grid_thw"))
        for name in RequestOptions.overrideNames {
            let key = Key(stringValue: name)
            guard c.contains(key) else { continue }
            if let text = try? c.decode(String.self, forKey: key) {
                parameters[name] = text
            } else if let integer = try? c.decode(Int.self, forKey: key) {
                parameters[name] = String(integer)
            } else if let number = try? c.decode(Double.self, forKey: key) {
                parameters[name] = String(number)
            } else {
                throw WireError("invalid_parameter", "field '\(name)' must be a number")
            }
        }
    }
}
