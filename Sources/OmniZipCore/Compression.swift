/// One compression job: the embeddings (borrowed), the audio scores, the layout and parameters.
public struct CompressionInput: Sendable {
    public let audio: TokenRows
    public let video: TokenRows
    public let audioScores: [Float]
    public let layout: ChunkLayout
    public let parameters: Parameters

    /// Embeddings that fit the layout: one row per token, one dimension for both modalities.
    public init(audio: TokenRows, video: TokenRows, audioScores: [Float], layout: ChunkLayout, parameters: Parameters) throws(OmniZipError) {
        try Self.checkEmbeddings(
            audioRows: audio.count, videoRows: video.count, audioDimension: audio.dimension, videoDimension: video.dimension, layout: layout)
        self.audio = audio
        self.video = video
        self.audioScores = audioScores
        self.layout = layout
        self.parameters = parameters
    }

    /// The one place the embeddings' shapes are checked against the layout (the wire decoder
    /// calls it too, before it has a whole input, to refuse a request from its tensors).
    public static func checkEmbeddings(
        audioRows: Int, videoRows: Int, audioDimension: Int, videoDimension: Int, layout: ChunkLayout
    ) throws(OmniZipError) {
        guard audioRows == layout.audioTokenCount else { throw .embeddingCount(.audio, rows: audioRows, tokens: layout.audioTokenCount) }
        guard videoRows == layout.videoTokenCount else { throw .embeddingCount(.video, rows: videoRows, tokens: layout.videoTokenCount) }
        if audioRows > 0, videoRows > 0, audioDimension != videoDimension {
            throw .dimensionMismatch(audio: audioDimension, video: videoDimension)
        }
    }
}

/// The outcome, indexed within each modality (the wire layer maps back to prompt positions).
public struct CompressionResult: Sendable {
    public var plan: BudgetPlan
    public var videoKeep: [Bool]
    /// Anchors whose embedding a merge changed, ascending audio indices.
    public var mergedAnchors: [Int]
    /// Their new values, `mergedAnchors.count × dimension`, float32.
    public var mergedEmbeddings: [Float]
    /// Per merged anchor (same order): the audio indices merged into it, highest cross-modal
    /// score first. Not sent to clients; it lets a report link merged-away tokens to anchors.
    public var mergedSources: [[Int]]
    public var dimension: Int
    /// Seconds spent in each phase: plan, audio, video (with the anchor assignment beside it), merge.
    public var timings: PhaseTimings

    public var audioKeep: [Bool] { plan.audio.keep }
}

/// The OmniZip pipeline. Stateless apart from the pool width; safe to share across threads.
public struct Compressor: Sendable {
    public let pool: WorkerPool

    /// Whether BF16 requests may use the BF16 dot-product kernel (when the CPU has it).
    public let allowsBF16DotProducts: Bool

    /// Bytes of a frame's DPC-kNN similarity matrix a worker holds at once (see `DensityPeaks`).
    public let similarityBytes: Int
    public static let defaultSimilarityBytes = 16 << 20

    /// `scratchLimit`: bytes of scratch lent out at once (`BufferPool.lendingLimit`).
    /// `similarityBytes`: smaller values put larger frames in bands (the same bits, more work).
    public init(
        workers: Int, allowBF16DotProducts: Bool = true, niceness: Int32 = 0, scratchLimit: Int = .max,
        similarityBytes: Int = defaultSimilarityBytes
    ) {
        pool = WorkerPool(width: workers, niceness: niceness, buffers: BufferPool(lendingLimit: scratchLimit))
        allowsBF16DotProducts = allowBF16DotProducts
        self.similarityBytes = similarityBytes
    }

    /// Whether `elementType` embeddings take the BF16 cross-modal tiles on this CPU (else the
    /// float32 products run inside the per-frame pass).
    public func crossModalInTiles(_ elementType: ElementType) -> Bool {
        CrossModalPath.choose(audio: elementType, video: elementType, allowBF16: allowsBF16DotProducts) == .bfloat16
    }

    public func compress(_ input: CompressionInput) throws(OmniZipError) -> CompressionResult {
        try compress(input, trace: nil)
    }

    /// The same compression, recording into `trace` (when given) what stage 3 and the merge
    /// ranked by. The result is the same bytes with or without it.
    public func compress(_ input: CompressionInput, trace: CompressionTrace?) throws(OmniZipError) -> CompressionResult {
        let layout = input.layout
        let clock = ContinuousClock()
        var timings = PhaseTimings()
        var mark = clock.now
        func lap() -> Double {
            let now = clock.now
            defer { mark = now }
            return (now - mark).seconds
        }
        let plan = try BudgetPlan(scores: input.audioScores, layout: layout, parameters: input.parameters)
        timings.plan = lap()
        let work = try CompressionWork(
            input, plan: plan, path: crossModalPath(input), buffers: pool.buffers, similarityBytes: similarityBytes, trace: trace)
        run(work, work.units.indices[..<work.panelsStart])
        try work.checkScratch()
        try work.audio.checkFinite()
        run(work, work.units.indices[work.panelsStart..<work.anchorsStart])
        timings.audio = lap()
        // The anchor assignment (one GEMM) runs beside the first frame units.
        run(work, work.units.indices[work.framesStart..<work.tilesStart], alongside: work.anchorsStart)
        timings.frames = lap()
        try work.checkScratch()
        try work.video.checkFinite()
        run(work, work.units.indices[work.tilesStart...])
        timings.crossModal = lap()
        timings.video = timings.frames + timings.crossModal
        return try work.finish(pool: pool, timings: timings)
    }

    func crossModalPath(_ input: CompressionInput) -> CrossModalPath {
        CrossModalPath.choose(audio: input.audio.elementType, video: input.video.elementType, allowBF16: allowsBF16DotProducts)
    }

    /// One phase's units on the pool.
    private func run(_ work: CompressionWork, _ units: Range<Int>, alongside: Int? = nil) {
        pool.run(
            units: units.count, alongside: alongside.map { unit in { work.run(unit, in: work.workspace()) } },
            prepare: { _ in work.workspace() }
        ) { ws, u in
            work.run(units.lowerBound + u, in: ws)
        }
    }
}

/// Where a compression spent its time, in seconds (reported in responses and benchmarks).
/// `frames` and `crossModal` are the two passes inside `video`: per frame pair (with the anchor
/// GEMM beside it, and float32 cross-modal products) and the BF16 cross-modal tiles. A
/// streamed compression reports only what was left when the body was complete.
public struct PhaseTimings: Sendable, Equatable {
    public var plan = 0.0, audio = 0.0, video = 0.0, merge = 0.0
    public var frames = 0.0, crossModal = 0.0
    public var total: Double { plan + audio + video + merge }
    public init() {}
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
