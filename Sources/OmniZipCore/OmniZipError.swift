/// Everything the core refuses. Each rule lives in the initialiser of the value it protects
/// (`ChunkLayout`, `Parameters`, `BudgetPlan`), and each case carries the numbers the wire layer
/// needs to word the refusal for what the client sent (a tensor or a JSON field, run lengths
/// or token ids). `description` is the wording for callers of the core itself.
public enum OmniZipError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Modality: String, Sendable { case audio, video }

    /// A run length outside 1...`ChunkLayout.maxRunLength`.
    case chunkLength(Modality, index: Int, length: Int)
    /// A modality's runs sum past its limit (or past Int).
    case tooManyTokens(Modality, limit: Int)
    /// A `video_grid_thw` value outside 0...`ChunkLayout.maxGridValue`.
    case gridValue(t: Int, h: Int, w: Int)
    /// A grid whose T*P is past `ChunkLayout.maxGridTokens`.
    case gridTooLarge(t: Int, h: Int, w: Int)
    /// There is video, and P is outside 1...`ChunkLayout.maxTokensPerFrame`.
    case tokensPerFrame(Int)
    /// The budget base T*P is not the number of video tokens.
    case gridMismatch(gridTokens: Int, videoTokens: Int)
    /// Not one score per audio token.
    case scoreCount(Int, audioTokens: Int)
    case nonFiniteScore(index: Int, value: Float)
    /// A ratio parameter outside [0, 1] (NaN included).
    case ratio(name: String, value: Double)
    /// `g` outside 0...`Parameters.maxG`.
    case g(Int)
    /// Embedding rows that do not match the layout's token count.
    case embeddingCount(Modality, rows: Int, tokens: Int)
    case dimensionMismatch(audio: Int, video: Int)
    case nonFiniteEmbedding(Modality, tokens: Range<Int>)
    /// Scratch memory for the compression could not be had (the process's, or the pool's
    /// lending limit): the request may succeed later, the process lives on.
    case insufficientMemory(bytes: Int)

    public var description: String {
        switch self {
        case let .chunkLength(m, index, length):
            "\(m)_chunk_lens[\(index)] must be \(length <= 0 ? "positive" : "at most \(ChunkLayout.maxRunLength)"), got \(length)"
        case let .tooManyTokens(m, limit): "\(m)_chunk_lens sums to more than \(limit) tokens, the most a request may have"
        case let .gridValue(t, h, w): "video_grid_thw must hold values in [0, \(ChunkLayout.maxGridValue)], got [\(t), \(h), \(w)]"
        case let .gridTooLarge(t, h, w): "video_grid_thw [\(t), \(h), \(w)] is too large"
        case let .tokensPerFrame(p): "the layout has \(p) tokens per frame; video needs 1 to \(ChunkLayout.maxTokensPerFrame)"
        case let .gridMismatch(gridTokens, videoTokens): "the grid gives \(gridTokens) video tokens but there are \(videoTokens)"
        case let .scoreCount(count, audioTokens): "audio_scores has \(count) values but there are \(audioTokens) audio tokens"
        case let .nonFiniteScore(index, value): "audio_scores[\(index)] is \(value); scores must be finite"
        case let .ratio(name, value): "parameter '\(name)' must be a finite number in [0, 1], got \(value)"
        case let .g(g): "parameter 'g' must be in [0, \(Parameters.maxG)], got \(g)"
        case let .embeddingCount(m, rows, tokens): "there are \(rows) \(m) embeddings but the layout has \(tokens) \(m) tokens"
        case let .dimensionMismatch(audio, video): "audio embeddings have dimension \(audio) but video embeddings have \(video)"
        case let .nonFiniteEmbedding(m, tokens):
            "\(m) embeddings contain NaN or infinite values (in \(m) tokens \(tokens.lowerBound)..<\(tokens.upperBound))"
        case let .insufficientMemory(bytes): "cannot allocate \(bytes) bytes of scratch memory for this compression; retry later"
        }
    }
}
