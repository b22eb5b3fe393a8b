import COmniZipKernels

/// Stage 3 and the cross-modal maximum `x_i = max_j a_i . v_j` of each pooled audio token, as
/// two kinds of unit that each write only their own slots:
/// 1. per pair of frames (`run(frames:)`): every row widened once, its norm, the frames'
///    pruning, and with float32 products (F32/F16 inputs) the pair's cross-modal products while
///    the rows are hot;
/// 2. with BF16 inputs on AVX-512 BF16 (`run(tile:)`): the cross-modal maximum of one pair of
///    frames by `audioColumnsPerTile` pooled audio tokens, read straight from the request, so
///    that many workers have work even on a short clip.
/// `finish()` reduces the slots in a fixed order, so the result never depends on which unit ran
/// when, or where.
final class VideoPass: @unchecked Sendable {
    /// A multiple of the BF16 kernel's panel width (`PackedBF16Rows.panelColumns`).
    static let audioColumnsPerTile = 128

    let rows: TokenRows
    let units: [VideoUnit]
    let maxRows: Int
    let tokensPerFrame: Int
    /// Similarity rows held at once for one frame (`DensityPeaks.bandRows`).
    let bandRows: Int
    private let frameKept: [[Int]?]
    private let audio: AudioFeatures
    let pooled: Int
    /// The float32 products run inside the frame units (they then need every pooled unit row).
    let float32Products: Bool
    /// BF16 tiles per frame unit (0 without them).
    let tileGroups: Int

    private let keep: UnsafeMutableBufferPointer<Bool>
    /// Per unit, per pooled audio token: the maximum over the unit's rows.
    private let unitMaxima: UnsafeMutableBufferPointer<Float>
    private let finite: UnsafeMutableBufferPointer<Bool>
    /// Per video token: ||v|| + 1e-6, the BF16 products' divisor.
    private let divisors: UnsafeMutableBufferPointer<Float>
    /// Per video token, only when traced: the value its frame ranked it by (`CompressionTrace`).
    private let traceValues: UnsafeMutableBufferPointer<Float>?

    init(_ rows: TokenRows, layout: ChunkLayout, plan: BudgetPlan, audio: AudioFeatures, similarityBytes: Int, traced: Bool = false) {
        self.rows = rows
        self.audio = audio
        units = VideoUnit.units(layout)
        maxRows = units.map(\.count).max() ?? 0
        tokensPerFrame = layout.tokensPerFrame
        bandRows = DensityPeaks.bandRows(tokens: layout.tokensPerFrame, bytes: similarityBytes)
        frameKept = plan.videoFrameKept
        pooled = plan.audio.pool.count
        float32Products = pooled > 0 && audio.packedPool == nil
        tileGroups = pooled > 0 && audio.packedPool != nil ? (pooled + Self.audioColumnsPerTile - 1) / Self.audioColumnsPerTile : 0
        keep = .allocate(capacity: rows.count)
        keep.initialize(repeating: false)
        unitMaxima = .allocate(capacity: units.count * pooled)
        unitMaxima.initialize(repeating: -.infinity)
        finite = .allocate(capacity: units.count)
        finite.initialize(repeating: true)
        divisors = .allocate(capacity: audio.packedPool == nil ? 0 : rows.count)
        divisors.initialize(repeating: 1)
        if traced {
            let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows.count)
            values.initialize(repeating: .nan)
            traceValues = values
        } else {
            traceValues = nil
        }
    }

    deinit {
        keep.deallocate()
        unitMaxima.deallocate()
        finite.deallocate()
        divisors.deallocate()
        traceValues?.deallocate()
    }

    func workspace(_ buffers: BufferPool) throws(OmniZipError) -> VideoWorkspace {
        try VideoWorkspace(
            rows: maxRows, d: rows.dimension, p: tokensPerFrame, crossColumns: float32Products ? pooled : 0, bandRows: bandRows, buffers: buffers)
    }

    func run(frames u: Int, workspace ws: VideoWorkspace) {
        let unit = units[u], d = rows.dimension, pooled = pooled
        let raw = ws.raw.base, norms = ws.norms.base
        // Without float32 products (which need ws.unit first), each row of a pruned frame is
        // normalised for stage 3 as soon as it is widened, while it is in L1: a unit's widened
        // rows outgrow L2, and reading them back later cost as much as the widening.
        let normaliseNow = !float32Products && unit.firstFrame >= 0 && frameKept[unit.run] != nil
        for r in 0..<unit.count {
            let row = normaliseNow ? raw : raw + r * d
            if !rows.widen(unit.start + r, into: row) { finite[u] = false }
            norms[r] = Kernels.norm(row, d)
            if normaliseNow { FramePruning.normalise(row, norm: norms[r], into: ws.unit.base + r * d, d) }
        }
        if !divisors.isEmpty {
            for r in 0..<unit.count { divisors[unit.start + r] = norms[r] + 1e-6 }
        }
        if float32Products {
            for r in 0..<unit.count {
                Kernels.divide(raw + r * d, by: norms[r] + 1e-6, into: ws.unit.base + r * d, d)
            }
            Kernels.gemmABt(UnsafePointer(audio.poolUnit.base), ws.unit.base, ws.cross.base, m: pooled, n: unit.count, k: d)
            for i in 0..<pooled {
                let row = ws.cross.base + i * unit.count
                var best = -Float.infinity
                for j in 0..<unit.count where row[j] > best { best = row[j] }
                unitMaxima[u * pooled + i] = best
            }
        }
        guard let counts = frameKept[unit.run] else {
            // A run shorter than one frame is kept whole.
            for r in 0..<unit.count { keep[unit.start + r] = true }
            return
        }
        guard unit.firstFrame >= 0 else { return } // rows past the last whole frame
        FramePruning.prune(
            unit, counts: counts, tokensPerFrame: tokensPerFrame, dimension: d, workspace: ws, normalised: normaliseNow, keep: keep,
            traceValues: traceValues.map { $0.baseAddress! + unit.start })
    }

    /// BF16 raw products of frame unit `tile / tileGroups` with pooled tokens of group
    /// `tile % tileGroups`, each divided by its video row's divisor, maximised per pooled token.
    /// Needs the frame unit (its divisors) and the group's panels.
    func run(tile: Int, addresses: UnsafeMutablePointer<UnsafeRawPointer?>) {
        guard let packed = audio.packedPool else { return }
        let u = tile / tileGroups, unit = units[u], group = tile % tileGroups
        for r in 0..<unit.count { addresses[r] = rows.address(unit.start + r) }
        let first = group * Self.audioColumnsPerTile
        omnizip_bf16_max_similarity(
            addresses, unit.count, rows.dimension, packed.panels(from: first), min(Self.audioColumnsPerTile, pooled - first),
            divisors.baseAddress! + unit.start, unitMaxima.baseAddress! + u * pooled + first)
    }

    /// The panels tile group `group` reads.
    func panels(ofGroup group: Int) -> Range<Int> {
        let per = Self.audioColumnsPerTile / PackedBF16Rows.panelColumns
        return (group * per)..<min(audio.packedPool?.panelCount ?? 0, group * per + per)
    }

    /// After every frame unit: the first unit with a NaN or Inf, as the request's error.
    func checkFinite() throws(OmniZipError) {
        if let bad = finite.firstIndex(of: false) {
            let unit = units[bad]
            throw .nonFiniteEmbedding(.video, tokens: unit.start..<(unit.start + unit.count))
        }
    }

    /// After every frame unit, when traced: each video token's ranking value (empty otherwise).
    func tracedValues() -> [Float] { traceValues.map { Array($0) } ?? [] }

    /// After every unit: the keep mask and each pooled token's cross-modal score (empty
    /// without video).
    func finish() -> (keep: [Bool], crossModal: [Float]) {
        var cross: [Float] = []
        if rows.count > 0 {
            let scaledByAudioNorm = audio.packedPool != nil
            cross = (0..<pooled).map { i in
                var best = -Float.infinity
                for u in 0..<units.count { best = max(best, unitMaxima[u * pooled + i]) }
                return scaledByAudioNorm ? best / audio.poolDivisor(i) : best
            }
        }
        return (Array(keep), cross)
    }
}
