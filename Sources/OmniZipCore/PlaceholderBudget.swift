/// What a request keeps under `video_budget=exact`, from its sizes and parameters alone (no
/// scores, no embeddings): what a serving engine needs to size a prompt's placeholders before
/// any encoder runs. Equal to the totals compression then keeps.
public struct PlaceholderBudget: Sendable, Equatable {
    public var totalAudio: Int
    public var totalVideo: Int
    /// Audio tokens kept: dominant plus anchors.
    public var keptAudio: Int
    /// K*: video tokens kept in whole frames.
    public var videoTarget: Int
    /// Tokens of video runs shorter than one frame (kept whole).
    public var shortVideo: Int

    public var keptVideo: Int { videoTarget + shortVideo }
    public var kept: Int { keptAudio + keptVideo }
    public var total: Int { totalAudio + totalVideo }

    /// Never fails: the layout and parameters are valid by construction.
    public init(layout: ChunkLayout, parameters: Parameters) {
        let p = layout.tokensPerFrame
        totalAudio = layout.audioTokenCount
        totalVideo = layout.videoTokenCount
        keptAudio = AudioSelection.keptCount(totalAudio, parameters: parameters)
        videoTarget = ExactVideoTarget.tokens(layout: layout, rhoVideo: parameters.rhoVideo)
        shortVideo = layout.videoRunLengths.filter { $0 < p }.reduce(0, +)
    }
}
