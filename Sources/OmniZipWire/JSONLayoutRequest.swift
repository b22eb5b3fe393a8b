#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import OmniZipCore

/// What JSON requests (`/v1/score`, `/v1/budget`) share: run lengths, the frame size and
/// parameters; score requests add the audio scores. Parameters may be numbers or strings;
/// unknown fields are refused.
struct JSONLayoutRequest: Decodable {
    var audioScores: [Double]?
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

    static let layoutFields: Set<String> = ["audio_chunk_lens", "video_chunk_lens", "tokens_per_frame", "video_grid_thw"]
    private static let fieldsKey = CodingUserInfoKey(rawValue: "omnizip.fields")!

    /// Decodes `body`, accepting `fields` plus the parameters.
    static func decode(_ body: UnsafeRawBufferPointer, fields: Set<String>) throws(WireError) -> JSONLayoutRequest {
        let decoder = JSONDecoder()
        decoder.userInfo[fieldsKey] = fields
        do {
            return try decoder.decode(JSONLayoutRequest.self, from: Data(body))
        } catch let error as WireError {
            throw error
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw WireError(.invalidJSON, "the body must be a JSON object")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw WireError(.invalidValue, "field '\(fieldPath(context.codingPath))' has the wrong type (\(context.debugDescription))")
        } catch let DecodingError.keyNotFound(key, _) {
            throw WireError(.missingField, "field '\(key.stringValue)' missing")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            throw WireError(.invalidValue, "field '\(fieldPath(context.codingPath))' is invalid (\(context.debugDescription))")
        } catch {
            throw WireError(.invalidJSON, "the body is not a valid JSON object")
        }
    }

    private static func fieldPath(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined()
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let fields = decoder.userInfo[Self.fieldsKey] as? Set<String> ?? Self.layoutFields
        let known = fields.union(RequestOptions.overrideNames)
        if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw WireError(.unexpectedField, "field '\(unknown)' is not part of this request; expected \(known.sorted().joined(separator: ", "))")
        }
        audioScores = try c.decodeIfPresent([Double].self, forKey: Key(stringValue: "audio_scores"))
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
                throw WireError(.invalidParameter, "field '\(name)' must be a number or a string")
            }
        }
    }

    /// The chunk layout the fields describe, checked with `scores` when given. `audioRuns`
    /// stands in when `audio_chunk_lens` is absent. Without a grid, the budget base T*P is the
    /// number of video tokens.
    func layout(defaultAudioRuns audioRuns: [Int], scores: [Float]?) throws(WireError) -> ChunkLayout {
        let frames: WireError.Wording.Frames
        if let grid = videoGridTHW {
            guard grid.count == 3 else {
                throw WireError(.invalidValue, "field 'video_grid_thw' must be [T, H, W] with values in [0, \(ChunkLayout.maxGridValue)]")
            }
            frames = .grid(t: grid[0], h: grid[1], w: grid[2])
        } else if let perFrame = tokensPerFrame {
            frames = .tokensPerFrame(perFrame)
        } else {
            frames = .none
        }
        return try DeclaredLayout(
            audioRuns: audioChunkLens ?? audioRuns, videoRuns: videoChunkLens ?? [], frames: frames,
            container: .field
        ).build(scores: scores)
    }
}
