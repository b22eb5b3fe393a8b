/// The four knobs of the OmniZip pipeline, validated once at the edge.
public struct Parameters: Sendable, Equatable, Hashable {
    /// Audio merging ratio: the fraction of audio tokens that are not kept as dominant.
    public var rhoAudio: Double
    /// Video merging ratio: the global fraction of video tokens to drop.
    public var rhoVideo: Double
    /// Contextual ratio: anchors as a fraction of all audio tokens.
    public var contextualRatio: Double
    /// How many pooled audio tokens at most merge into each anchor.
    public var g: Int
    /// How stage 3's per-frame counts are set; `.reference` unless asked otherwise.
    public var videoBudget: VideoBudgetMode

    /// Paper defaults for Qwen2.5-Omni.
    public static let defaults = Parameters(rhoAudio: 0.3, rhoVideo: 0.6, contextualRatio: 0.05, g: 3)

    /// Fixed clamp bounds of the per-chunk video ratio (stage 2).
    public static let ratioFloor = 0.35
    public static let ratioCeiling = 0.75

    public init(rhoAudio: Double, rhoVideo: Double, contextualRatio: Double, g: Int, videoBudget: VideoBudgetMode = .reference) {
        self.rhoAudio = rhoAudio
        self.rhoVideo = rhoVideo
        self.contextualRatio = contextualRatio
        self.g = g
        self.videoBudget = videoBudget
    }

    /// Ratios must be finite and in [0, 1]; g must be non-negative.
    public func validated() throws(OmniZipError) -> Parameters {
        for (name, value) in [("rho_audio", rhoAudio), ("rho_video", rhoVideo), ("contextual_ratio", contextualRatio)] {
            guard value.isFinite, value >= 0, value <= 1 else {
                throw .invalidParameter(name: name, reason: "must be a finite number in [0, 1], got \(value)")
            }
        }
        guard g >= 0 else { throw .invalidParameter(name: "g", reason: "must be a non-negative integer, got \(g)") }
        // Bounded so that per-anchor merge lists stay small; the paper uses 3 and 15.
        guard g <= 1_000_000 else { throw .invalidParameter(name: "g", reason: "must be at most 1000000, got \(g)") }
        return self
    }
}

/// Everything the core can reject. The wire layer maps these to HTTP 400s.
public enum OmniZipError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidParameter(name: String, reason: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): "parameter '\(name)' \(reason)"
        case let .invalidInput(message): message
        }
    }
}
