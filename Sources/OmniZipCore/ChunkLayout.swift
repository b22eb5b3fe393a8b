/// How the audio and video tokens split into chunks ("runs"), and the video grid.
///
/// Run i of video pairs with run i of audio; the first `min(#video, #audio)` runs are guided.
public struct ChunkLayout: Sendable, Equatable {
    public var audioRunLengths: [Int]
    public var videoRunLengths: [Int]
    /// P: video tokens per temporal grid (frame) after the 2x2 spatial merge.
    public var tokensPerFrame: Int
    /// T*P: the base of the global video budget.
    public var gridTokens: Int

    public init(audioRunLengths: [Int], videoRunLengths: [Int], tokensPerFrame: Int, gridTokens: Int) {
        self.audioRunLengths = audioRunLengths
        self.videoRunLengths = videoRunLengths
        self.tokensPerFrame = tokensPerFrame
        self.gridTokens = gridTokens
    }

    public var audioTokenCount: Int { audioRunLengths.reduce(0, +) }
    public var videoTokenCount: Int { videoRunLengths.reduce(0, +) }
    public var guidedRunCount: Int { min(audioRunLengths.count, videoRunLengths.count) }

    /// Builds the layout from `video_grid_thw = [T, H, W]` (patch units, 2x2 merge).
    public init(audioRunLengths: [Int], videoRunLengths: [Int], grid: (t: Int, h: Int, w: Int)) throws(OmniZipError) {
        guard grid.t >= 0, grid.h >= 0, grid.w >= 0 else {
            throw .invalidInput("video_grid_thw must be non-negative, got [\(grid.t), \(grid.h), \(grid.w)]")
        }
        let (p, o1) = (grid.h / 2).multipliedReportingOverflow(by: grid.w / 2)
        let (tp, o2) = p.multipliedReportingOverflow(by: grid.t)
        guard !o1, !o2, tp <= 1 << 40 else { throw .invalidInput("video_grid_thw [\(grid.t), \(grid.h), \(grid.w)] is too large") }
        self.init(audioRunLengths: audioRunLengths, videoRunLengths: videoRunLengths, tokensPerFrame: p, gridTokens: tp)
    }

    /// Most video tokens a layout may have (about 9 hours of Qwen2.5-Omni video): the plan keeps
    /// a count per frame, so a few bytes of sizes must not ask for unbounded memory.
    public static let maxVideoTokens = 1 << 22
    /// Most audio tokens (sizes-only budgets read no per-token data, but sums must not overflow).
    public static let maxAudioTokens = 1 << 40

    /// The sum of run lengths, or nil when it leaves Int's range.
    public static func checkedTotal(_ runs: [Int]) -> Int? {
        var total = 0
        for n in runs {
            let (sum, overflow) = total.addingReportingOverflow(n)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// Checks that the layout can be compressed: positive P when there is video, sane lengths.
    public func validate() throws(OmniZipError) {
        for (name, runs, limit) in [("audio_chunk_lens", audioRunLengths, Self.maxAudioTokens),
                                    ("video_chunk_lens", videoRunLengths, Self.maxVideoTokens)] {
            if let bad = runs.firstIndex(where: { $0 <= 0 }) {
                throw .invalidInput("\(name)[\(bad)] must be positive, got \(runs[bad])")
            }
            guard let total = Self.checkedTotal(runs), total <= limit else {
                throw .invalidInput("\(name) sums to more than \(limit) tokens, the most a request may have")
            }
        }
        if !videoRunLengths.isEmpty && tokensPerFrame <= 0 {
            throw .invalidInput("video_grid_thw gives \(tokensPerFrame) tokens per frame; H and W must be at least 2")
        }
    }

    /// Splits ascending positions wherever two neighbours differ by more than one.
    public static func runLengths<C: Collection>(ofAscendingPositions positions: C) -> [Int] where C.Element: BinaryInteger {
        var lengths: [Int] = []
        var previous: C.Element?
        for position in positions {
            if let p = previous, position - p == 1 {
                lengths[lengths.count - 1] += 1
            } else {
                lengths.append(1)
            }
            previous = position
        }
        return lengths
    }
}
