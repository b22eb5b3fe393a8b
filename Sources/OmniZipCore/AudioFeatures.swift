/// The audio side of stage 1 that needs embeddings: unit rows of the pooled tokens and the
/// anchors (every audio row checked finite), in blocks of `blockRows` rows that each write only
/// their own slots, so blocks may run in any order, on any worker, as their rows arrive.
final class AudioFeatures: @unchecked Sendable {
    static let blockRows = 64

    let rows: TokenRows
    let dimension: Int
    /// Pool rows normalised as `A / (||A|| + 1e-6)`, `pool.count × D`.
    let poolUnit: Scratch<Float>
    /// Anchor rows normalised the same way, `anchors.count × D`.
    let anchorUnit: Scratch<Float>
    /// The pooled rows for the BF16 cross-modal kernel, when that path is taken (packed by
    /// `PackedBF16Rows.pack(panel:)` units).
    let packedPool: PackedBF16Rows?
    let poolCount: Int
    /// Per audio row: -1 (only checked) or its slot (pool first, then anchors).
    private let destination: [Int]
    /// Per block: every row finite. Per pooled token: `||A|| + 1e-6`, its unit row's divisor.
    private let finite: UnsafeMutableBufferPointer<Bool>
    private let divisors: UnsafeMutableBufferPointer<Float>

    init(_ rows: TokenRows, plan: AudioSelection, buffers: BufferPool, path: CrossModalPath) throws(OmniZipError) {
        self.rows = rows
        let d = rows.dimension
        dimension = d
        let pooled = plan.pool, anchors = plan.anchors
        poolCount = pooled.count
        poolUnit = try .required(pooled.count * d, from: buffers)
        anchorUnit = try .required(anchors.count * d, from: buffers)
        var destination = [Int](repeating: -1, count: rows.count)
        for (i, a) in pooled.enumerated() { destination[a] = i }
        for (c, a) in anchors.enumerated() { destination[a] = pooled.count + c }
        self.destination = destination
        finite = .allocate(capacity: (rows.count + Self.blockRows - 1) / Self.blockRows)
        finite.initialize(repeating: true)
        divisors = .allocate(capacity: pooled.count)
        divisors.initialize(repeating: 1)
        packedPool = path == .bfloat16 && !pooled.isEmpty ? try PackedBF16Rows(rows, indices: pooled, buffers: buffers) : nil
    }

    deinit {
        finite.deallocate()
        divisors.deallocate()
    }

    var blocks: Int { finite.count }

    func rows(ofBlock block: Int) -> Range<Int> {
        (block * Self.blockRows)..<min(rows.count, block * Self.blockRows + Self.blockRows)
    }

    /// Widens block `block`'s rows into `row` one at a time: the pool and anchors are
    /// normalised, the rest only checked for NaN/Inf so that bad input is rejected whatever the mask.
    func run(block: Int, row: UnsafeMutablePointer<Float>) {
        let d = dimension
        for r in rows(ofBlock: block) {
            if !rows.widen(r, into: row) { finite[block] = false }
            let slot = destination[r]
            guard slot >= 0 else { continue }
            let target = slot < poolCount ? poolUnit.base + slot * d : anchorUnit.base + (slot - poolCount) * d
            let divisor = Kernels.norm(row, d) + 1e-6
            if slot < poolCount { divisors[slot] = divisor }
            Kernels.divide(row, by: divisor, into: target, d)
        }
    }

    /// After every block: the first block with a NaN or Inf, as the request's error.
    func checkFinite() throws(OmniZipError) {
        if let bad = finite.firstIndex(of: false) { throw .nonFiniteEmbedding(.audio, tokens: rows(ofBlock: bad)) }
    }

    /// After every block: pooled token `i`'s divisor.
    func poolDivisor(_ i: Int) -> Float { divisors[i] }
}
