import COmniZipKernels

/// One parallel pass over the video: every row is widened exactly once, and while it is hot
/// it feeds (a) the cross-modal maximum `x_i = max_j a_i . v_j` of each pooled audio token and
/// (b) stage 3's spatio-temporal pruning of the frame it belongs to.
struct VideoPass {
    /// Per video token: kept.
    let keep: [Bool]
    /// Per pooled audio token: its cross-modal score (without video: its best anchor similarity).
    let crossModal: [Float]

    /// A slice of one video run: a pair of frames (even, odd), a lone last frame, or the rows
    /// past the last whole frame (which only feed the cross-modal maximum).
    private struct Unit {
        var run: Int
        var start: Int // first video token of the unit
        var count: Int
        var firstFrame: Int // frame index within the run, or -1 for leftover rows
    }

    init(
        _ rows: TokenRows, layout: ChunkLayout, plan: BudgetPlan, audio: borrowing AudioFeatures,
        pool: WorkerPool
    ) throws(OmniZipError) {
        let p = layout.tokensPerFrame, d = rows.dimension
        let pooled = plan.audio.pool.count

        var units: [Unit] = []
        var start = 0
        for (run, length) in layout.videoRunLengths.enumerated() {
            let frames = length / p // P >= 1 whenever there is a video run
            var frame = 0
            while frame < frames {
                let n = min(2, frames - frame)
                units.append(Unit(run: run, start: start + frame * p, count: n * p, firstFrame: frame))
                frame += n
            }
            let leftover = length - frames * p
            if leftover > 0 {
                units.append(Unit(run: run, start: start + frames * p, count: leftover, firstFrame: -1))
            }
            start += length
        }

        var keep = [Bool](repeating: false, count: rows.count)
        var unitMaxima = [Float](repeating: -.infinity, count: units.count * pooled)
        var finite = [Bool](repeating: true, count: units.count)
        let maxRows = units.map(\.count).max() ?? 0
        let poolUnit = UnsafePointer(audio.poolUnit.base)
        let frameKept = plan.videoFrameKept

        final class Workspace {
            let raw: Scratch<Float>, unit: Scratch<Float>, norms: Scratch<Float>, cross: Scratch<Float>
            let similarity: Scratch<Float>, transposed: Scratch<Float>, density: Scratch<Float>, score: Scratch<Float>
            let rowAddresses: Scratch<UnsafeRawPointer?>
            init(rows: Int, d: Int, p: Int, pooled: Int, bf16: Bool, buffers: BufferPool) {
                raw = Scratch(rows * d, from: buffers); unit = Scratch(rows * d, from: buffers)
                norms = Scratch(rows, from: buffers); cross = Scratch(bf16 ? 0 : pooled * rows, from: buffers)
                similarity = Scratch(p * p, from: buffers); transposed = Scratch(omnizip_gram_scratch(p, d), from: buffers)
                density = Scratch(p, from: buffers); score = Scratch(p, from: buffers)
                rowAddresses = Scratch(rows, from: buffers)
            }
        }
        let packedPool = audio.packedPool.map { UncheckedSendable((UnsafePointer($0.panels.base), $0.count)) }

        keep.withUnsafeMutableBufferPointer { keep in
            unitMaxima.withUnsafeMutableBufferPointer { unitMaxima in
                finite.withUnsafeMutableBufferPointer { finite in
                    pool.run(
                        units: units.count,
                        prepare: { _ in Workspace(rows: maxRows, d: d, p: p, pooled: pooled, bf16: packedPool != nil, buffers: pool.buffers) }
                    ) {
                        ws, u in
                        let unit = units[u]
                        let raw = ws.raw.base, norms = ws.norms.base
                        for r in 0..<unit.count {
                            if !rows.widen(unit.start + r, into: raw + r * d) { finite[u] = false }
                            norms[r] = Kernels.norm(raw + r * d, d)
                        }
                        if pooled > 0, let packedPool {
                            // BF16 path: raw products of the rows where they lie, each divided by
                            // its video row's ||v|| + 1e-6, maximised per pooled audio token.
                            let (panels, poolCount) = packedPool.value
                            for r in 0..<unit.count {
                                ws.rowAddresses.base[r] = rows.address(unit.start + r)
                                ws.unit.base[r] = norms[r] + 1e-6
                            }
                            let maxima = unitMaxima.baseAddress! + u * pooled
                            omnizip_bf16_max_similarity(ws.rowAddresses.base, unit.count, d, panels, poolCount, ws.unit.base, maxima)
                        } else if pooled > 0 {
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
                        // Which frame's unit rows sit in ws.unit rows 0..<p: an even frame's rows are
                        // reused as the "previous frame" of the odd one that follows.
                        var unitRowsOffset = -1
                        for f in 0..<(unit.count / p) {
                            let frame = unit.firstFrame + f
                            let offset = f * p
                            let budget = counts[frame]
                            let picked: [Int]
                            if budget >= p {
                                picked = Array(0..<p)
                            } else if budget == 0 {
                                picked = []
                            } else if frame % 2 == 0 {
                                let unitRows = ws.unit.base
                                for r in 0..<p {
                                    Kernels.divide(
                                        raw + (offset + r) * d, by: max(norms[offset + r], 1e-12),
                                        into: unitRows + r * d, d)
                                }
                                unitRowsOffset = offset
                                DensityPeaks.score(
                                    unit: unitRows, tokens: p, dimension: d, similarity: ws.similarity.base,
                                    transposeScratch: ws.transposed.base,
                                    density: ws.density.base, score: ws.score.base)
                                let score = ws.score.base
                                picked = Selection.largest(p, budget) { score[$0] }
                            } else {
                                // Odd frames keep what changed most since the previous (even) frame:
                                // cosine of the unit rows, as the reference computes it.
                                let score = ws.score.base
                                let before = ws.unit.base, now = ws.unit.base + p * d
                                if unitRowsOffset != offset - p {
                                    for r in 0..<p {
                                        Kernels.divide(
                                            raw + (offset - p + r) * d, by: max(norms[offset - p + r], 1e-12),
                                            into: before + r * d, d)
                                    }
                                    unitRowsOffset = offset - p
                                }
                                for r in 0..<p {
                                    let u = now + r * d, v = before + r * d
                                    Kernels.divide(raw + (offset + r) * d, by: max(norms[offset + r], 1e-12), into: u, d)
                                    let denominator = max(Kernels.norm(u, d) * Kernels.norm(v, d), 1e-8)
                                    score[r] = Kernels.dot(u, v, d) / denominator
                                }
                                picked = Selection.smallest(p, budget) { score[$0] }
                            }
                            for r in picked { keep[unit.start + offset + r] = true }
                        }
                    }
                }
            }
        }
        if let bad = finite.firstIndex(of: false) {
            let unit = units[bad]
            throw .nonFiniteEmbedding(.video, tokens: unit.start..<(unit.start + unit.count))
        }

        var cross = audio.bestAnchorSimilarity
        if rows.count > 0 {
            let scaledByAudioNorm = audio.packedPool != nil
            for i in 0..<pooled {
                var best = -Float.infinity
                for u in 0..<units.count { best = max(best, unitMaxima[u * pooled + i]) }
                cross[i] = scaledByAudioNorm ? best / audio.poolDivisors[i] : best
            }
        }
        self.keep = keep
        crossModal = cross
    }
}
