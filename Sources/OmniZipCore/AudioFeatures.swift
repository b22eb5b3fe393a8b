/// The audio side of stage 1 that needs embeddings: unit rows of the pooled tokens and the
/// anchors (every audio row checked finite), and the pooled rows packed for the BF16 kernel.
struct AudioFeatures {
    let dimension: Int
    /// Pool rows normalised as `A / (||A|| + 1e-6)`, `pool.count × D`.
    let poolUnit: Scratch<Float>
    /// Anchor rows normalised the same way, `anchors.count × D`.
    let anchorUnit: Scratch<Float>
    /// For each pooled token: `||A|| + 1e-6`, the divisor of its unit row.
    let poolDivisors: [Float]
    /// The pooled rows for the BF16 cross-modal kernel, when that path is taken.
    let packedPool: PackedBF16Rows?

    init(_ rows: TokenRows, plan: AudioSelection, pool: WorkerPool, path: CrossModalPath) throws(OmniZipError) {
        let d = rows.dimension
        dimension = d
        let pooled = plan.pool, anchors = plan.anchors
        let poolUnit = Scratch<Float>(pooled.count * d, from: pool.buffers)
        let anchorUnit = Scratch<Float>(anchors.count * d, from: pool.buffers)

        // Every audio row is widened once: the pool and anchors are normalised, the rest only
        // checked for NaN/Inf so that bad input is rejected whatever the mask.
        var destination = [Int](repeating: -1, count: rows.count) // -1 check only; else slot
        for (i, a) in pooled.enumerated() { destination[a] = i }
        for (c, a) in anchors.enumerated() { destination[a] = pooled.count + c }
        let blocks = (rows.count + 63) / 64
        var finite = [Bool](repeating: true, count: blocks)
        var divisors = [Float](repeating: 1, count: pooled.count)
        let poolBase = poolUnit.base, anchorBase = anchorUnit.base
        let poolCount = pooled.count
        divisors.withUnsafeMutableBufferPointer { divisors in
            finite.withUnsafeMutableBufferPointer { finite in
                pool.run(units: blocks, prepare: { _ in Scratch<Float>(d, from: pool.buffers) }) { row, block in
                    for r in (block * 64)..<min(rows.count, block * 64 + 64) {
                        if !rows.widen(r, into: row.base) { finite[block] = false }
                        let slot = destination[r]
                        guard slot >= 0 else { continue }
                        let target = slot < poolCount ? poolBase + slot * d : anchorBase + (slot - poolCount) * d
                        let divisor = Kernels.norm(row.base, d) + 1e-6
                        if slot < poolCount { divisors[slot] = divisor }
                        Kernels.divide(row.base, by: divisor, into: target, d)
                    }
                }
            }
        }
        if let bad = finite.firstIndex(of: false) {
            throw .nonFiniteEmbedding(.audio, tokens: (bad * 64)..<min(rows.count, bad * 64 + 64))
        }

        self.poolUnit = poolUnit
        self.anchorUnit = anchorUnit
        poolDivisors = divisors
        packedPool = path == .bfloat16 && !pooled.isEmpty ? PackedBF16Rows(rows, indices: pooled, pool: pool) : nil
    }
}
