import OmniZipCore

extension WireError {
    /// The client's own terms for what a core refusal is about. The core knows the rule and the
    /// numbers; the request knows whether it sent tensors or JSON fields, how it gave its token
    /// counts and frame size, and where each parameter came from.
    struct Wording {
        enum Container: String { case tensor, field }
        enum Tokens { case runLengths, interleaved(audioID: Int64, videoID: Int64) }
        enum Frames { case grid(t: Int, h: Int, w: Int), tokensPerFrame(Int), none }

        var container = Container.tensor
        var tokens = Tokens.runLengths
        var frames = Frames.none
        /// Per parameter name: the text as sent, and where ("parameter 'g'", "__metadata__ 'g'").
        var parameters: [String: (text: String, origin: String)] = [:]

        /// How the request gave `count` tokens of `modality`.
        func source(_ modality: OmniZipError.Modality, _ count: Int) -> String {
            switch tokens {
            case .runLengths: "\(modality)_chunk_lens sums to \(count)"
            case let .interleaved(audioID, videoID): "input_ids has \(count) \(modality) tokens (id \(modality == .audio ? audioID : videoID))"
            }
        }
    }

    /// A core refusal as the client sees it: the one place core errors become wire codes.
    public static func core(_ error: OmniZipError) -> WireError { core(error, Wording()) }

    static func core(_ error: OmniZipError, _ wording: Wording) -> WireError {
        let container = wording.container.rawValue
        switch error {
        case let .chunkLength(m, index, length):
            let rule = length <= 0 ? "positive" : "at most \(ChunkLayout.maxRunLength)"
            return WireError(.invalidValue, "\(container) '\(m)_chunk_lens'[\(index)] is \(length); chunk lengths must be \(rule)")
        case let .tooManyTokens(m, limit):
            guard case let .interleaved(audioID, videoID) = wording.tokens else { return WireError(.invalidInput, error.description) }
            return WireError(
                .invalidInput, "input_ids has more than \(limit) \(m) tokens (id \(m == .audio ? audioID : videoID)), the most a request may have")
        case let .gridValue(t, h, w):
            return WireError(
                .invalidValue, "\(container) 'video_grid_thw' must hold values in [0, \(ChunkLayout.maxGridValue)], got [\(t), \(h), \(w)]")
        case let .embeddingCount(m, rows, tokens):
            guard case .runLengths = wording.tokens else { return WireError(.invalidInput, error.description) }
            return WireError(.invalidShape, "tensor '\(m)_embeds' has \(rows) rows but \(wording.source(m, tokens))")
        case let .dimensionMismatch(audio, video):
            return WireError(.invalidShape, "tensor 'audio_embeds' has dimension \(audio) but 'video_embeds' has \(video)")
        case .gridTooLarge, .nonFiniteEmbedding:
            return WireError(.invalidInput, error.description)
        case .insufficientMemory:
            return WireError(.insufficientMemory, error.description)
        case let .tokensPerFrame(p):
            if case .tokensPerFrame = wording.frames {
                return WireError(.invalidValue, "field 'tokens_per_frame' must be an integer in [1, \(ChunkLayout.maxTokensPerFrame)], got \(p)")
            }
            // Too small means H or W below the 2x2 merge: the grid itself is unusable.
            if p < 1 { return WireError(.invalidInput, "video_grid_thw gives \(p) tokens per frame; H and W must be at least 2") }
            return WireError(.invalidValue, "video_grid_thw gives \(p) tokens per frame; at most \(ChunkLayout.maxTokensPerFrame) are supported")
        case let .gridMismatch(gridTokens, videoTokens):
            guard case let .grid(t, h, w) = wording.frames else { return WireError(.inconsistentShapes, error.description) }
            return WireError(
                .inconsistentShapes,
                "video_grid_thw [\(t), \(h), \(w)] gives T*(H/2)*(W/2) = \(gridTokens) video tokens but \(wording.source(.video, videoTokens))")
        case let .scoreCount(count, audioTokens):
            return WireError(.inconsistentShapes, "\(container) 'audio_scores' has \(count) values but \(wording.source(.audio, audioTokens))")
        case let .nonFiniteScore(index, value):
            // A JSON number can be finite and still overflow float32 (1e39): say which rule it broke.
            if wording.container == .field { return WireError(.invalidValue, "field 'audio_scores'[\(index)] is not a finite float32") }
            return WireError(.invalidValue, "tensor 'audio_scores'[\(index)] is \(value); scores must be finite")
        case let .ratio(name, value):
            let given = wording.parameters[name]
            return WireError(.invalidParameter, "\(given?.origin ?? "parameter '\(name)'") must be in [0, 1], got \(given?.text ?? "\(value)")")
        case let .g(g):
            return WireError(.invalidParameter, "\(wording.parameters["g"]?.origin ?? "parameter 'g'") must be in [0, \(Parameters.maxG)], got \(g)")
        }
    }
}
