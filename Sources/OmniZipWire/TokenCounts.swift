import OmniZipCore

/// How many tokens a request had and kept: what a response reports in its `__metadata__`, and
/// all the server's metrics and the inspector need to know about a compression.
public struct TokenCounts: Sendable, Equatable {
    public var totalAudio = 0, keptAudio = 0, totalVideo = 0, keptVideo = 0, merged = 0
    /// Including text (interleaved requests only), which is always kept.
    public var total = 0, kept = 0

    public init(_ request: DecodedRequest, _ plan: BudgetPlan, merged: Int = 0) {
        totalAudio = request.chunks.audioTokenCount
        totalVideo = request.chunks.videoTokenCount
        keptAudio = plan.keptAudio
        keptVideo = plan.keptVideo
        self.merged = merged
        let other = request.layout == .interleaved ? request.promptLength - totalAudio - totalVideo : 0
        total = totalAudio + totalVideo + other
        kept = keptAudio + keptVideo + other
    }
}
