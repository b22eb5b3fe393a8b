import OmniZipWire

/// Where a golden (interleaved) request's audio and video tokens are, read from `input_ids`
/// with a plain statement of the chunk rule, independent of the decoder under test.
public struct RequestLayout {
    public let ids: [Int64]
    public let audioTokenID: Int64
    public let videoTokenID: Int64
    private let metadata: [String: String]
    private let grid: [Int64]

    public init(_ request: TensorBundle) throws {
        ids = try request.ints("input_ids")
        grid = try request.ints("video_grid_thw")
        metadata = request.metadata
        audioTokenID = Int64(metadata["audio_token_id"] ?? "") ?? RequestOptions.defaultAudioTokenID
        videoTokenID = Int64(metadata["video_token_id"] ?? "") ?? RequestOptions.defaultVideoTokenID
    }

    /// Lengths of the runs of consecutive positions holding `id`.
    public func runs(of id: Int64) -> [Int] {
        var lengths: [Int] = []
        var previous = -2
        for (position, x) in ids.enumerated() where x == id {
            if position == previous + 1 { lengths[lengths.count - 1] += 1 } else { lengths.append(1) }
            previous = position
        }
        return lengths
    }

    /// Kept audio and video tokens under a keep mask.
    public func keptCounts(_ keep: [Bool]) -> (audio: Int, video: Int) {
        var audio = 0, video = 0
        for (position, id) in ids.enumerated() where keep[position] {
            if id == audioTokenID { audio += 1 } else if id == videoTokenID { video += 1 }
        }
        return (audio, video)
    }

    /// The sizes and parameters of this request as a JSON score (or, without scores, budget)
    /// body: runs from `input_ids`, the grid, and the parameters of `__metadata__`.
    public func sizesJSON(scores: [Float]? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "audio_chunk_lens": runs(of: audioTokenID), "video_chunk_lens": runs(of: videoTokenID),
            "video_grid_thw": grid.map { Int($0) },
        ]
        if let scores { object["audio_scores"] = scores.map { Double($0) } }
        for name in ["rho_audio", "rho_video", "contextual_ratio", "g"] { object[name] = metadata[name] }
        return object
    }
}
