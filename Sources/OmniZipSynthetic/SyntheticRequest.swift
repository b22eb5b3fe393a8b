import OmniZipCore
import OmniZipWire

extension SyntheticClip {
    /// The clip as an interleaved `/v1/compress` request body, embeddings in `elementType`. The
    /// small tensors come first, as the reference writer and the Python client put them (widest
    /// elements first), so a server can plan before the embeddings arrive.
    public func requestBody(elementType: ElementType = .bfloat16, parameters: Parameters = .defaults) -> [UInt8] {
        let embeddings = promptEmbeddings()
        let ids = (0..<promptLength).map { isVideoPosition($0) ? RequestOptions.defaultVideoTokenID : RequestOptions.defaultAudioTokenID }
        var writer = SafetensorsWriter(metadata: [
            "rho_audio": String(parameters.rhoAudio), "rho_video": String(parameters.rhoVideo),
            "contextual_ratio": String(parameters.contextualRatio), "g": String(parameters.g),
            "audio_token_id": String(RequestOptions.defaultAudioTokenID), "video_token_id": String(RequestOptions.defaultVideoTokenID),
        ])
        writer.add("input_ids", dtype: .i64, shape: [promptLength], elements: ids)
        writer.add("audio_scores", dtype: .f32, shape: [audioTokens], elements: audioScores())
        writer.add("video_grid_thw", dtype: .i64, shape: [1, 3], elements: [Int64(grid.t), Int64(grid.h), Int64(grid.w)])
        writer.add(
            "inputs_embeds", dtype: ElementConversion.dtype(elementType), shape: [promptLength, dimension],
            count: embeddings.count * elementType.byteWidth
        ) { out in
            embeddings.withUnsafeBufferPointer { ElementConversion.store($0, as: elementType, into: out.baseAddress!) }
        }
        return writer.serialized()
    }
}
