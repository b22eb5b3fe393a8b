/// Stage 3 on one unit whose rows are widened (`ws.raw`) with their norms (`ws.norms`), or
/// already normalised (`ws.unit`, each row at its place in the unit): even frames by DPC-kNN
/// saliency, odd frames by their change since the even frame before.
enum FramePruning {
    /// A row divided by its norm, as stage 3 compares rows.
    @inline(__always)
    static func normalise(_ row: UnsafePointer<Float>, norm: Float, into destination: UnsafeMutablePointer<Float>, _ d: Int) {
        Kernels.divide(row, by: max(norm, 1e-12), into: destination, d)
    }

    /// Marks the unit's kept tokens in `keep` (indexed by video token). With `traceValues` (the
    /// unit's first token's slot of a trace), every whole frame is scored, even one that keeps
    /// all or none, and its scores are copied there.
    static func prune(
        _ unit: VideoUnit, counts: [Int], tokensPerFrame p: Int, dimension d: Int, workspace ws: VideoWorkspace,
        normalised: Bool = false, keep: UnsafeMutableBufferPointer<Bool>, traceValues: UnsafeMutablePointer<Float>? = nil
    ) {
        let raw = ws.raw.base, norms = ws.norms.base
        // Which frame's unit rows sit in ws.unit rows 0..<p: an even frame's rows are reused as
        // the "previous frame" of the odd one that follows. Rows normalised beforehand are all
        // in place already (a unit's first frame is even, so ws.unit's layout is the same).
        var unitRowsOffset = -1
        func normalise(_ offset: Int, into destination: UnsafeMutablePointer<Float>) {
            guard !normalised else { return }
            for r in 0..<p { Self.normalise(raw + (offset + r) * d, norm: norms[offset + r], into: destination + r * d, d) }
        }
        for f in 0..<(unit.count / p) {
            let frame = unit.firstFrame + f
            let offset = f * p
            let budget = counts[frame]
            let picked: [Int]
            if budget >= p, traceValues == nil {
                picked = Array(0..<p)
            } else if budget == 0, traceValues == nil {
                picked = []
            } else if frame % 2 == 0 {
                normalise(offset, into: ws.unit.base)
                unitRowsOffset = offset
                DensityPeaks.score(
                    unit: ws.unit.base, tokens: p, dimension: d, bandRows: ws.bandRows, similarity: ws.similarity.base,
                    packed: ws.packed.base, density: ws.density.base, score: ws.score.base)
                let score = ws.score.base
                picked = Selection.largest(p, budget) { score[$0] }
            } else {
                // Odd frames keep what changed most since the previous (even) frame: cosine of
                // the unit rows, as the reference computes it.
                let score = ws.score.base
                let before = ws.unit.base, now = ws.unit.base + p * d
                if unitRowsOffset != offset - p {
                    normalise(offset - p, into: before)
                    unitRowsOffset = offset - p
                }
                normalise(offset, into: now)
                for r in 0..<p {
                    let u = now + r * d, v = before + r * d
                    let denominator = max(Kernels.norm(u, d) * Kernels.norm(v, d), 1e-8)
                    score[r] = Kernels.dot(u, v, d) / denominator
                }
                picked = Selection.smallest(p, budget) { score[$0] }
            }
            if let traceValues {
                for r in 0..<p { traceValues[offset + r] = ws.score.base[r] }
            }
            for r in picked { keep[unit.start + offset + r] = true }
        }
    }
}
