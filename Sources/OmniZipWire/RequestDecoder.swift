import OmniZipCore

/// Turns a safetensors request body into a `DecodedRequest`, checking every tensor's presence,
/// dtype, shape and consistency before anything is computed.
public enum RequestDecoder {
    /// Decodes `body`. `requireEmbeddings` is false for the budget plan (`/v1/score`).
    public static func decode(
        _ body: UnsafeRawBufferPointer, overrides: [String: String] = [:],
        requireEmbeddings: Bool
    ) throws(WireError) -> DecodedRequest {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile(parsing: body)
        } catch {
            throw .notSafetensors(error, body: body)
        }
        return try decode(file, body: body, overrides: overrides, requireEmbeddings: requireEmbeddings)
    }

    /// Decodes a body whose header `file` is already parsed (a streamed body's prefix).
    public static func decode(
        _ file: SafetensorsFile, body: UnsafeRawBufferPointer, overrides: [String: String], requireEmbeddings: Bool
    ) throws(WireError) -> DecodedRequest {
        let reader = TensorReader(file: file, body: body)
        let options = try RequestOptions(metadata: file.metadata, overrides: overrides)
        if file.tensor("input_ids") != nil {
            return try decodeInterleaved(reader, options: options, requireEmbeddings: requireEmbeddings)
        }
        if file.tensor("audio_chunk_lens") != nil || file.tensor("video_chunk_lens") != nil
            || file.tensor("audio_embeds") != nil || file.tensor("video_embeds") != nil
        {
            return try decodeSplit(reader, options: options, requireEmbeddings: requireEmbeddings)
        }
        throw WireError(
            .missingTensor, "request has neither 'input_ids' (interleaved layout) nor 'audio_chunk_lens'/'video_chunk_lens' (split layout)")
    }

    private static func decodeInterleaved(
        _ reader: TensorReader, options: RequestOptions,
        requireEmbeddings: Bool
    ) throws(WireError) -> DecodedRequest {
        try reader.allowOnly(["input_ids", "inputs_embeds", "audio_scores", "video_grid_thw"], layout: "interleaved")
        let ids = try reader.integers("input_ids", rank: [1], allowingBatch: true)
        let scores = try reader.scores()
        let grid = try reader.grid()

        var audioPositions: [Int] = [], videoPositions: [Int] = []
        for (position, id) in ids.enumerated() {
            if id == options.audioTokenID { audioPositions.append(position) } else if id == options.videoTokenID { videoPositions.append(position) }
        }
        if options.audioTokenID == options.videoTokenID {
            throw WireError(.invalidParameter, "audio_token_id and video_token_id are both \(options.audioTokenID)")
        }
        let chunks = try DeclaredLayout(
            audioRuns: ChunkLayout.runLengths(ofAscendingPositions: audioPositions),
            videoRuns: ChunkLayout.runLengths(ofAscendingPositions: videoPositions),
            frames: .grid(t: grid.t, h: grid.h, w: grid.w), container: .tensor,
            tokens: .interleaved(audioID: options.audioTokenID, videoID: options.videoTokenID)
        )
        .build(scores: scores)

        var request = DecodedRequest(
            layout: .interleaved, options: options, chunks: chunks, scores: scores, audio: nil, video: nil,
            dimension: 0, promptLength: ids.count, audioPositions: audioPositions,
            videoPositions: videoPositions, promptEmbeddings: nil)
        request.videoGrid = grid
        if let embeds = try reader.embeddings("inputs_embeds", required: requireEmbeddings) {
            guard embeds.rows == ids.count else {
                throw WireError(.invalidShape, "tensor 'inputs_embeds' has \(embeds.rows) rows but 'input_ids' has \(ids.count) tokens")
            }
            request.dimension = embeds.dimension
            request.promptEmbeddings = embeds.rowsView(Array(0..<ids.count))
            request.audio = embeds.rowsView(audioPositions)
            request.video = embeds.rowsView(videoPositions)
        }
        return request
    }

    private static func decodeSplit(
        _ reader: TensorReader, options: RequestOptions,
        requireEmbeddings: Bool
    ) throws(WireError) -> DecodedRequest {
        try reader.allowOnly(
            ["audio_embeds", "video_embeds", "audio_scores", "video_grid_thw", "audio_chunk_lens", "video_chunk_lens"],
            layout: "split")
        let scores = try reader.scores()
        let grid = try reader.grid()
        let audioRuns = try reader.integers("audio_chunk_lens", rank: [1], allowingBatch: false).map { Int($0) }
        let videoRuns = try reader.integers("video_chunk_lens", rank: [1], allowingBatch: false).map { Int($0) }
        let chunks = try DeclaredLayout(
            audioRuns: audioRuns, videoRuns: videoRuns, frames: .grid(t: grid.t, h: grid.h, w: grid.w),
            container: .tensor
        ).build(scores: scores)
        var request = DecodedRequest(
            layout: .split, options: options, chunks: chunks, scores: scores, audio: nil, video: nil,
            dimension: 0, promptLength: 0, audioPositions: [], videoPositions: [], promptEmbeddings: nil)
        request.videoGrid = grid
        let audio = try reader.embeddings("audio_embeds", required: requireEmbeddings)
        let video = try reader.embeddings("video_embeds", required: requireEmbeddings)
        if (audio == nil) != (video == nil) {
            throw WireError(.missingTensor, "tensor '\(audio == nil ? "audio_embeds" : "video_embeds")' missing; send both embeddings or neither")
        }
        if let audio, let video {
            do throws(OmniZipError) {
                try CompressionInput.checkEmbeddings(
                    audioRows: audio.rows, videoRows: video.rows, audioDimension: audio.dimension, videoDimension: video.dimension,
                    layout: chunks)
            } catch {
                throw WireError.core(error)
            }
            request.dimension = audio.dimension
            request.audio = audio.rowsView(Array(0..<audio.rows))
            request.video = video.rowsView(Array(0..<video.rows))
        }
        return request
    }
}
