/// One request's parallel work as a list of units, each writing only its own slots, with what
/// each must wait for: the rows it reads (`lastByte`) and the units it reads from (`prerequisites`).
/// `Compressor.compress` runs the units phase by phase; `StreamingCompression` runs each as
/// soon as its rows have arrived. Either way `finish` reduces the slots in one fixed order, so
/// the result is the same bytes however and wherever the units ran.
final class CompressionWork: @unchecked Sendable {
    enum Unit: Equatable {
        case audioBlock(Int)
        case panel(Int)
        case anchors
        case frames(Int)
        case tile(Int)
    }

    let input: CompressionInput
    let plan: BudgetPlan
    let audio: AudioFeatures
    let video: VideoPass
    let buffers: BufferPool
    /// The units in phase order: audio blocks, panels, the anchor GEMM, frame units, tiles.
    let units: [Unit]
    /// Where each phase's units start in `units` (the anchor GEMM is the one unit between the
    /// panels and the frame units, run beside the frame units).
    let panelsStart: Int, anchorsStart: Int, framesStart: Int, tilesStart: Int
    /// Written by the `.anchors` unit.
    private(set) var anchors = AnchorAssignment.none
    /// Filled by `finish` (the video values by the frame units), only when asked.
    let trace: CompressionTrace?
    /// Set by the first unit whose scratch could not be had; later units do nothing and
    /// `finish` reports it.
    private let failure = Locked<OmniZipError?>(nil)

    init(
        _ input: CompressionInput, plan: BudgetPlan, path: CrossModalPath, buffers: BufferPool,
        similarityBytes: Int = Compressor.defaultSimilarityBytes, trace: CompressionTrace? = nil
    ) throws(OmniZipError) {
        self.input = input
        self.plan = plan
        self.buffers = buffers
        self.trace = trace
        audio = try AudioFeatures(input.audio, plan: plan.audio, buffers: buffers, path: path)
        video = VideoPass(input.video, layout: input.layout, plan: plan, audio: audio, similarityBytes: similarityBytes, traced: trace != nil)
        var units = (0..<audio.blocks).map(Unit.audioBlock)
        panelsStart = units.count
        units += (0..<(audio.packedPool?.panelCount ?? 0)).map(Unit.panel)
        anchorsStart = units.count
        units.append(.anchors)
        framesStart = units.count
        units += video.units.indices.map(Unit.frames)
        tilesStart = units.count
        units += (0..<(video.units.count * video.tileGroups)).map(Unit.tile)
        self.units = units
    }

    /// A worker's scratch, made on first use of each kind and reused for every unit it runs.
    final class Workspace {
        let buffers: BufferPool
        var row: Scratch<Float>?
        let dimension: Int
        var video: VideoWorkspace?
        var addresses: Scratch<UnsafeRawPointer?>?
        init(dimension: Int, buffers: BufferPool) {
            self.dimension = dimension
            self.buffers = buffers
        }
    }

    func workspace() -> Workspace { Workspace(dimension: input.audio.dimension, buffers: buffers) }

    func run(_ index: Int, in ws: Workspace) {
        guard failure.withLock({ $0 == nil }) else { return }
        do throws(OmniZipError) {
            switch units[index] {
            case let .audioBlock(block):
                if ws.row == nil { ws.row = try .required(ws.dimension, from: buffers) }
                audio.run(block: block, row: ws.row!.base)
            case let .panel(panel): audio.packedPool?.pack(panel: panel)
            case .anchors:
                anchors = try AnchorAssignment(audio, pooled: plan.audio.pool.count, anchors: plan.audio.anchors.count, buffers: buffers)
            case let .frames(u):
                if ws.video == nil { ws.video = try video.workspace(buffers) }
                video.run(frames: u, workspace: ws.video!)
            case let .tile(t):
                if ws.addresses == nil { ws.addresses = try .required(video.maxRows, from: buffers) }
                video.run(tile: t, addresses: ws.addresses!.base)
            }
        } catch {
            failure.withLock { $0 = $0 ?? error }
        }
    }

    /// The first scratch failure of the units run so far, as the request's refusal.
    func checkScratch() throws(OmniZipError) {
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Units that must have finished before unit `index` starts.
    func prerequisites(_ index: Int) -> [Int] {
        switch units[index] {
        case .audioBlock, .panel: []
        case .anchors: Array(0..<audio.blocks)
        case .frames: video.float32Products ? Array(0..<audio.blocks) : []
        case let .tile(t):
            [framesStart + t / video.tileGroups]
                + video.panels(ofGroup: t % video.tileGroups).map { panelsStart + $0 }
        }
    }

    /// One past the last request byte (counted from `start`) that unit `index` reads itself.
    func lastByte(_ index: Int, from start: UnsafeRawPointer) -> Int {
        func end(_ rows: TokenRows, _ row: Int) -> Int { rows.address(row) + rows.rowBytes - start }
        switch units[index] {
        case let .audioBlock(block): return audio.rows(ofBlock: block).map { end(input.audio, $0) }.max() ?? 0
        case let .panel(panel):
            guard let packed = audio.packedPool else { return 0 }
            return packed.tokens(ofPanel: panel).map { end(input.audio, packed.indices[$0]) }.max() ?? 0
        case let .frames(u):
            let unit = video.units[u]
            return (unit.start..<(unit.start + unit.count)).map { end(input.video, $0) }.max() ?? 0
        case .anchors, .tile: return 0
        }
    }

    /// After every unit: the result, or the request's first bad row (audio before video).
    func finish(pool: WorkerPool, timings: PhaseTimings) throws(OmniZipError) -> CompressionResult {
        try checkScratch()
        try audio.checkFinite()
        try video.checkFinite()
        var timings = timings
        let clock = ContinuousClock(), start = clock.now
        let (keep, videoCrossModal) = video.finish()
        // Without video, a pooled token's cross-modal score is its best anchor similarity.
        let crossModal = input.video.count > 0 ? videoCrossModal : anchors.similarity
        let merge = try AudioMerge(
            plan: plan.audio, assignment: anchors.anchor, crossModal: crossModal, g: input.parameters.g, rows: input.audio, pool: pool)
        timings.merge = (clock.now - start).seconds
        if let trace {
            trace.videoValues = video.tracedValues()
            trace.pool = plan.audio.pool
            trace.crossModal = crossModal
            trace.assignedAnchor = anchors.anchor.map { plan.audio.anchors[$0] }
            trace.anchorSimilarity = anchors.similarity
            trace.mergeWeights = merge.scores.map(AudioMerge.softmax)
        }
        return CompressionResult(
            plan: plan, videoKeep: keep, mergedAnchors: merge.anchors, mergedEmbeddings: merge.embeddings,
            mergedSources: merge.sources, dimension: input.audio.dimension, timings: timings)
    }
}
