/// How the audio and video tokens split into chunks ("runs"), and the video grid.
///
/// Run i of video pairs with run i of audio; the first `min(#video, #audio)` runs are guided.
/// Valid by construction: the initialisers are the one place the sizes are checked, so the
/// pipeline may divide by P and allocate per frame without checking again.
public struct ChunkLayout: Sendable, Equatable {
    public let audioRunLengths: [Int]
    public let videoRunLengths: [Int]
    /// P: video tokens per temporal grid (frame) after the 2x2 spatial merge; in
    /// 1...maxTokensPerFrame whenever there is video.
    public let tokensPerFrame: Int
    /// T*P: the base of the global video budget; always the number of video tokens.
    public let gridTokens: Int

    /// Most video tokens a layout may have (about 9 hours of Qwen2.5-Omni video): the plan keeps
    /// a count per frame, so a few bytes of sizes must not ask for unbounded memory.
    public static let maxVideoTokens = 1 << 22
    /// Most audio tokens (sizes-only budgets read no per-token data, but sums must not overflow).
    public static let maxAudioTokens = 1 << 40
    /// Longest single run, so that a few runs cannot overflow a sum before the totals are checked.
    public static let maxRunLength = 1 << 40
    /// Largest T, H or W of a grid.
    public static let maxGridValue = 1 << 24
    /// Largest T*P a grid may give.
    public static let maxGridTokens = 1 << 40
    /// Largest frame. DPC-kNN costs P²·D per frame, P times the work per byte of a frame's
    /// rows, so P bounds what one request's bytes can demand. (Its similarity scratch no longer
    /// grows with P²: `DensityPeaks` holds at most 16 MiB of it.) Qwen-Omni frames have at
    /// most 768 tokens.
    public static let maxTokensPerFrame = 4_096

    /// Sizes given directly: P, and the budget base T*P (the video token count when nil).
    public init(audioRunLengths: [Int], videoRunLengths: [Int], tokensPerFrame: Int, gridTokens: Int? = nil) throws(OmniZipError) {
        // All runs before any total: a client hears about a bad length before the sum it spoils.
        try Self.checkRuns(audioRunLengths, .audio)
        try Self.checkRuns(videoRunLengths, .video)
        _ = try Self.total(audioRunLengths, .audio, limit: Self.maxAudioTokens)
        let videoTotal = try Self.total(videoRunLengths, .video, limit: Self.maxVideoTokens)
        if !videoRunLengths.isEmpty, !(1...Self.maxTokensPerFrame).contains(tokensPerFrame) {
            throw .tokensPerFrame(tokensPerFrame)
        }
        if let gridTokens, gridTokens != videoTotal { throw .gridMismatch(gridTokens: gridTokens, videoTokens: videoTotal) }
        self.audioRunLengths = audioRunLengths
        self.videoRunLengths = videoRunLengths
        self.tokensPerFrame = tokensPerFrame
        self.gridTokens = videoTotal
    }

    /// Builds the layout from `video_grid_thw = [T, H, W]` (patch units, 2x2 merge).
    public init(audioRunLengths: [Int], videoRunLengths: [Int], grid: (t: Int, h: Int, w: Int)) throws(OmniZipError) {
        guard [grid.t, grid.h, grid.w].allSatisfy({ (0...Self.maxGridValue).contains($0) }) else {
            throw .gridValue(t: grid.t, h: grid.h, w: grid.w)
        }
        let p = (grid.h / 2) * (grid.w / 2) // at most 2^46: cannot overflow
        let (tp, overflow) = p.multipliedReportingOverflow(by: grid.t)
        guard !overflow, tp <= Self.maxGridTokens else { throw .gridTooLarge(t: grid.t, h: grid.h, w: grid.w) }
        try self.init(audioRunLengths: audioRunLengths, videoRunLengths: videoRunLengths, tokensPerFrame: p, gridTokens: tp)
    }

    public var audioTokenCount: Int { audioRunLengths.reduce(0, +) }
    public var videoTokenCount: Int { gridTokens }
    public var guidedRunCount: Int { min(audioRunLengths.count, videoRunLengths.count) }

    private static func checkRuns(_ runs: [Int], _ modality: OmniZipError.Modality) throws(OmniZipError) {
        if let bad = runs.firstIndex(where: { !(1...maxRunLength).contains($0) }) {
            throw .chunkLength(modality, index: bad, length: runs[bad])
        }
    }

    /// The sum of run lengths, refused past `limit` or Int's range.
    private static func total(_ runs: [Int], _ modality: OmniZipError.Modality, limit: Int) throws(OmniZipError) -> Int {
        var total = 0
        for n in runs {
            let (sum, overflow) = total.addingReportingOverflow(n)
            guard !overflow, sum <= limit else { throw .tooManyTokens(modality, limit: limit) }
            total = sum
        }
        return total
    }

    /// Splits ascending positions wherever two neighbours differ by more than one.
    public static func runLengths(ofAscendingPositions positions: [Int]) -> [Int] {
        // Concrete, not generic over BinaryInteger: unspecialised across modules, the generic
        // version allocated once per position (8,700 allocations for a one-minute clip).
        var lengths: [Int] = []
        var previous: Int?
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
