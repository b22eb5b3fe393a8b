/// Everything about a request's outcome that needs no embeddings: the audio keep mask, each
/// chunk's retention and ratio, and how many tokens each video run keeps. A serving engine
/// sizes its placeholders from this before the encoders run.
public struct BudgetPlan: Sendable, Equatable {
    public var audio: AudioSelection
    public var audioChunkRetention: [Double]
    /// The ratio applied to each video run; 0 for a run shorter than one frame (kept whole).
    public var videoChunkRatio: [Double]
    /// Per guided run: the ratio its audio retention alone gives, before stage 2 renormalises
    /// the guided runs to the global budget (so `videoChunkRatio - this` is the renormalisation).
    public var videoChunkBaseRatio: [Double]
    /// Tokens each video run keeps.
    public var videoChunkKept: [Int]
    /// Per video run: tokens each whole frame keeps, or nil for a run kept whole.
    public var videoFrameKept: [[Int]?]
    /// How the per-frame counts were set.
    public var videoBudget: VideoBudgetMode

    public var keptAudio: Int { audio.keep.reduce(0) { $0 + ($1 ? 1 : 0) } }
    public var keptVideo: Int { videoChunkKept.reduce(0, +) }

    /// The layout and parameters are valid by construction; only the scores are checked here.
    public init(scores: [Float], layout: ChunkLayout, parameters: Parameters) throws(OmniZipError) {
        try Self.checkScores(scores, layout: layout)
        audio = AudioSelection(scores: scores, parameters: parameters)
        let budget = VideoBudget(audioKeep: audio.keep, layout: layout, rhoVideo: parameters.rhoVideo)
        audioChunkRetention = budget.audioChunkRetention
        videoChunkBaseRatio = budget.baseRatio

        let frames = FrameCounts.make(
            layout: layout, ratios: budget.videoChunkRatio, mode: parameters.videoBudget,
            rhoVideo: parameters.rhoVideo)
        // A run kept whole reports ratio 0, as the reference does.
        videoChunkRatio = zip(budget.videoChunkRatio, frames).map { ratio, counts in counts == nil ? 0 : ratio }
        videoChunkKept = zip(layout.videoRunLengths, frames).map { length, counts in counts?.reduce(0, +) ?? length }
        videoFrameKept = frames
        videoBudget = parameters.videoBudget
    }

    /// The plan's rule for its scores: all finite, one per audio token. Decoders call it as soon
    /// as they have the layout, so a bad score is refused before any embedding is looked at.
    public static func checkScores(_ scores: [Float], layout: ChunkLayout) throws(OmniZipError) {
        if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteScore(index: bad, value: scores[bad]) }
        guard scores.count == layout.audioTokenCount else { throw .scoreCount(scores.count, audioTokens: layout.audioTokenCount) }
    }
}
