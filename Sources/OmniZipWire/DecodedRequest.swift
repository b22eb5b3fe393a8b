import OmniZipCore

/// The two request layouts: the model's own interleaved prompt, or modalities sent apart.
public enum RequestLayout: String, Sendable {
    case interleaved, split
}

/// A request decoded in place: tensors stay in the body buffer, which must outlive this value.
public struct DecodedRequest: Sendable {
    public var layout: RequestLayout
    public var options: RequestOptions
    public var chunks: ChunkLayout
    public var scores: [Float]
    /// Embeddings, when the request carries them (a score request need not).
    public var audio: TokenRows?
    public var video: TokenRows?
    public var dimension: Int
    /// Interleaved only: the prompt length, where each modality sits, and the whole
    /// `inputs_embeds` (for `compressed_embeds`).
    public var promptLength: Int
    public var audioPositions: [Int]
    public var videoPositions: [Int]
    public var promptEmbeddings: TokenRows?
    /// `video_grid_thw` as sent (safetensors requests), for drawing frames as (H/2) x (W/2) patches.
    public var videoGrid: (t: Int, h: Int, w: Int)? = nil

    public var hasEmbeddings: Bool { audio != nil && video != nil }

    /// The embeddings' element type; merged anchors are returned in it.
    public var embeddingType: ElementType { audio?.elementType ?? video?.elementType ?? .float32 }

    /// The budget plan (`/v1/score`, `omnizip score`): needs no embeddings.
    public func budgetPlan() throws(WireError) -> BudgetPlan {
        do throws(OmniZipError) {
            return try BudgetPlan(scores: scores, layout: chunks, parameters: options.parameters)
        } catch {
            throw .core(error)
        }
    }

    public func compressionInput() throws(WireError) -> CompressionInput {
        guard let audio, let video else {
            let names = layout == .interleaved ? "'inputs_embeds'" : "'audio_embeds' and 'video_embeds'"
            throw WireError(.missingTensor, "compression needs the embeddings: tensor \(names) missing")
        }
        do throws(OmniZipError) {
            return try CompressionInput(audio: audio, video: video, audioScores: scores, layout: chunks, parameters: options.parameters)
        } catch {
            throw WireError.core(error)
        }
    }

    /// Compresses the request with `compressor` (recording into `trace` when given): what
    /// /v1/compress, /v1/explain and the CLI do, with core refusals mapped to their wire errors
    /// in one place.
    public func compress(with compressor: Compressor, trace: CompressionTrace? = nil) throws(WireError) -> CompressionResult {
        let input = try compressionInput()
        do throws(OmniZipError) {
            return try compressor.compress(input, trace: trace)
        } catch {
            throw .core(error)
        }
    }
}
