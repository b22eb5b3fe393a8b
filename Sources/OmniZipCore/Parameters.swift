/// The four knobs of the OmniZip pipeline. Valid by construction: the throwing initialiser is
/// the one place their ranges are checked, so nothing downstream checks them again.
public struct Parameters: Sendable, Equatable, Hashable {
    /// Audio merging ratio: the fraction of audio tokens that are not kept as dominant.
    public let rhoAudio: Double
    /// Video merging ratio: the global fraction of video tokens to drop.
    public let rhoVideo: Double
    /// Contextual ratio: anchors as a fraction of all audio tokens.
    public let contextualRatio: Double
    /// How many pooled audio tokens at most merge into each anchor.
    public let g: Int
    /// How stage 3's per-frame counts are set; `.reference` unless asked otherwise. Any value
    /// is valid, so it may change after construction (`/v1/budget` forces `.exact`).
    public var videoBudget: VideoBudgetMode

    /// Paper defaults for Qwen2.5-Omni.
    public static let defaults = Parameters(checked: 0.3, 0.6, 0.05, 3, .reference)
    /// Paper defaults for Qwen3-Omni.
    public static let qwen3OmniDefaults = Parameters(checked: 0.4, 0.7, 0.05, 3, .reference)

    /// Fixed clamp bounds of the per-chunk video ratio (stage 2).
    public static let ratioFloor = 0.35
    public static let ratioCeiling = 0.75
    /// Bounded so that per-anchor merge lists stay small; the paper uses 3 and 15.
    public static let maxG = 1_000_000

    /// Ratios must lie in [0, 1] (NaN does not); g in 0...maxG.
    public init(
        rhoAudio: Double, rhoVideo: Double, contextualRatio: Double, g: Int,
        videoBudget: VideoBudgetMode = .reference
    ) throws(OmniZipError) {
        for (name, value) in [("rho_audio", rhoAudio), ("rho_video", rhoVideo), ("contextual_ratio", contextualRatio)] {
            guard (0.0...1.0).contains(value) else { throw .ratio(name: name, value: value) }
        }
        guard (0...Self.maxG).contains(g) else { throw .g(g) }
        self.init(checked: rhoAudio, rhoVideo, contextualRatio, g, videoBudget)
    }

    private init(checked rhoAudio: Double, _ rhoVideo: Double, _ contextualRatio: Double, _ g: Int, _ videoBudget: VideoBudgetMode) {
        self.rhoAudio = rhoAudio
        self.rhoVideo = rhoVideo
        self.contextualRatio = contextualRatio
        self.g = g
        self.videoBudget = videoBudget
    }
}
