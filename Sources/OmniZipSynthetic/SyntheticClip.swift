/// Deterministic, structured stand-ins for encoder outputs, for benchmarks and tests: video
/// drifts within scenes and jumps at cuts; audio alternates speech-like and silent stretches,
/// with importance following speech. Qwen2.5-Omni layout: each 2-second chunk is 2 frames of
/// P video tokens followed by 50 audio tokens.
public struct SyntheticClip: Sendable {
    public var chunks: Int
    public var tokensPerFrame: Int
    public var dimension: Int
    public var audioPerChunk: Int
    public var seed: UInt64

    public init(chunks: Int, tokensPerFrame: Int = 120, dimension: Int = 3584, audioPerChunk: Int = 50, seed: UInt64 = 42) {
        self.chunks = chunks
        self.tokensPerFrame = tokensPerFrame
        self.dimension = dimension
        self.audioPerChunk = audioPerChunk
        self.seed = seed
    }

    /// The standard workloads: a 60-second and a 5-minute clip.
    public static let oneMinute = SyntheticClip(chunks: 30)
    public static let fiveMinutes = SyntheticClip(chunks: 150)

    public var videoTokens: Int { chunks * 2 * tokensPerFrame }
    public var audioTokens: Int { chunks * audioPerChunk }
    public var promptLength: Int { videoTokens + audioTokens }
    /// `video_grid_thw` in patch units: T = 2 per chunk, H x W giving P after the 2x2 merge.
    public var grid: (t: Int, h: Int, w: Int) { (2 * chunks, 2, 2 * tokensPerFrame) }

    /// Prompt positions: per chunk, 2P video positions then the chunk's audio positions.
    public func isVideoPosition(_ position: Int) -> Bool {
        position % (2 * tokensPerFrame + audioPerChunk) < 2 * tokensPerFrame
    }

    /// The interleaved `inputs_embeds [L, D]` as float32, row-major.
    public func promptEmbeddings() -> [Float] {
        var out = [Float](repeating: 0, count: promptLength * dimension)
        var rng = SplitMix64(seed)
        let d = dimension, p = tokensPerFrame
        var scene = (0..<(p * d)).map { _ in rng.gaussian() }
        var speech = (0..<d).map { _ in rng.gaussian() }
        var row = 0
        out.withUnsafeMutableBufferPointer { out in
            for chunk in 0..<chunks {
                if chunk % 5 == 0 && chunk > 0 { // a cut: a new scene
                    scene = (0..<(p * d)).map { _ in rng.gaussian() }
                }
                for _ in 0..<2 {
                    for t in 0..<p {
                        for j in 0..<d {
                            scene[t * d + j] += 0.05 * rng.gaussian() // drift
                            out[row * d + j] = scene[t * d + j] + 0.3 * rng.gaussian()
                        }
                        row += 1
                    }
                }
                let speaking = chunk % 3 != 2
                if chunk % 4 == 0 { speech = (0..<d).map { _ in rng.gaussian() } }
                for _ in 0..<audioPerChunk {
                    for j in 0..<d {
                        out[row * d + j] = (speaking ? speech[j] : 0) + (speaking ? 0.5 : 0.1) * rng.gaussian()
                    }
                    row += 1
                }
            }
        }
        return out
    }

    /// Importance of each audio token: high in speech, low in silence, with noise.
    public func audioScores() -> [Float] {
        var rng = SplitMix64(seed ^ 0x9E37_79B9_7F4A_7C15)
        return (0..<audioTokens).map { i in
            let speaking = (i / audioPerChunk) % 3 != 2
            return Float((speaking ? 1.0 : 0.1) * (1 + 0.5 * rng.uniform())) / Float(audioTokens)
        }
    }
}

/// A small, fast, seedable generator (SplitMix64) so workloads are identical everywhere.
struct SplitMix64 {
    private var state: UInt64

    init(_ seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Approximately standard normal (sum of four uniforms, rescaled): cheap and smooth enough.
    mutating func gaussian() -> Float {
        let s = uniform() + uniform() + uniform() + uniform() - 2
        return Float(s * 1.7320508075688772)
    }
}
