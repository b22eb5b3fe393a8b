import COmniZipKernels

/// Stage 3 and the cross-modal maximum `x_i = max_j a_i . v_j` of each pooled audio token, in
/// two parallel passes over the video:
/// 1. per pair of frames: every row widened once, its norm, the frames' pruning, and with
///    float32 products (F32/F16 inputs) the pair's cross-modal products while the rows are hot;
/// 2. with BF16 inputs on AVX-512 BF16: the cross-modal maximum in tiles of one pair of frames
///    by `audioColumnsPerTile` pooled audio tokens, read straight from the request, so that many
///    workers have work even on a short clip.
struct VideoPass {
    /// Per video token: kept.
    let keep: [Bool]
    /// Per pooled audio token: its cross-modal score (empty without video).
    let crossModal: [Float]
    /// Seconds in each pass (for the benchmark's roofline).
    let firstPassSeconds: Double, crossModalSeconds: Double

    /// A multiple of the BF16 kernel's panel width (`PackedBF16Rows.panelColumns`).
    static let audioColumnsPerTile = 128

    init(
        _ rows: TokenRows, layout: ChunkLayout, plan: BudgetPlan, audio: AudioFeatures,
        pool: WorkerPool, alongside: (() -> Void)? = nil
    ) throws(OmniZipError) {
        let p = layout.tokensPerFrame, d = rows.dimension
        let pooled = plan.audio.pool.count
        let units = VideoUnit.units(layout)
        let maxRows = units.map(\.count).max() ?? 0
        let frameKept = plan.videoFrameKept
        let poolUnit = UnsafePointer(audio.poolUnit.base)
        let packedPool = audio.packedPool
        let float32Products = pooled > 0 && packedPool == nil

        var keep = [Bool](repeating: false, count: rows.count)
        // Per unit, per pooled audio token: the maximum over the unit's rows.
        var unitMaxima = [Float](repeating: -.infinity, count: units.count * pooled)
        var finite = [Bool](repeating: true, count: units.count)
        // Per video token: ||v|| + 1e-6, the BF16 products' divisor.
        var divisors = [Float](repeating: 1, count: packedPool == nil ? 0 : rows.count)

        let clock = ContinuousClock()
        let firstPassStart = clock.now
        keep.withUnsafeMutableBufferPointer { keep in
            unitMaxima.withUnsafeMutableBufferPointer { unitMaxima in
                finite.withUnsafeMutableBufferPointer { finite in
                    divisors.withUnsafeMutableBufferPointer { divisors in
                        pool.run(
                            units: units.count, alongside: alongside,
                            prepare: { _ in
                                VideoWorkspace(rows: maxRows, d: d, p: p, crossColumns: float32Products ? pooled : 0, buffers: pool.buffers)
                            }
                        ) { ws, u in
                            let unit = units[u]
                            let raw = ws.raw.base, norms = ws.norms.base
                            for r in 0..<unit.count {
                                if !rows.widen(unit.start + r, into: raw + r * d) { finite[u] = false }
                                norms[r] = Kernels.norm(raw + r * d, d)
                            }
                            if !divisors.isEmpty {
                                for r in 0..<unit.count { divisors[unit.start + r] = norms[r] + 1e-6 }
                            }
                            if float32Products {
                                for r in 0..<unit.count {
                                    Kernels.divide(raw + r * d, by: norms[r] + 1e-6, into: ws.unit.base + r * d, d)
                                }
                                Kernels.gemmABt(poolUnit, ws.unit.base, ws.cross.base, m: pooled, n: unit.count, k: d)
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
                            FramePruning.prune(unit, counts: counts, tokensPerFrame: p, dimension: d, workspace: ws, keep: keep)
                        }
                    }
                }
            }
        }
        let crossModalStart = clock.now
        if let bad = finite.firstIndex(of: false) {
            let unit = units[bad]
            throw .nonFiniteEmbedding(.video, tokens: unit.start..<(unit.start + unit.count))
        }

        if pooled > 0, let packedPool {
            // BF16 raw products, each divided by its video row's divisor, maximised per pooled
            // audio token; each tile writes only its own unit's columns.
            let poolCount = packedPool.count
            let columns = Self.audioColumnsPerTile
            let groups = (poolCount + columns - 1) / columns
            unitMaxima.withUnsafeMutableBufferPointer { unitMaxima in
                divisors.withUnsafeBufferPointer { divisors in
                    pool.run(units: units.count * groups, prepare: { _ in Scratch<UnsafeRawPointer?>(maxRows, from: pool.buffers) }) {
                        addresses, tile in
                        let unit = units[tile / groups], group = tile % groups
                        for r in 0..<unit.count { addresses.base[r] = rows.address(unit.start + r) }
                        let first = group * columns
                        omnizip_bf16_max_similarity(
                            addresses.base, unit.count, d, packedPool.panels(from: first), min(columns, poolCount - first),
                            divisors.baseAddress! + unit.start, unitMaxima.baseAddress! + (tile / groups) * pooled + first)
                    }
                }
            }
        }

        firstPassSeconds = (crossModalStart - firstPassStart).seconds
        crossModalSeconds = (clock.now - crossModalStart).seconds
        var cross: [Float] = []
        if rows.count > 0 {
            let scaledByAudioNorm = packedPool != nil
            cross = (0..<pooled).map { i in
                var best = -Float.infinity
                for u in 0..<units.count { best = max(best, unitMaxima[u * pooled + i]) }
                return scaledByAudioNorm ? best / audio.poolDivisors[i] : best
            }
        }
        self.keep = keep
        crossModal = cross
    }
}
