/// Each pooled audio token's anchor: `argmax_c a_i . a_anchor_c` over unit rows (lower index on
/// ties), by one float32 GEMM. It does not split without changing OpenBLAS's bits (a row block
/// can take another kernel), so it runs whole, beside the video pass's units.
struct AnchorAssignment {
    /// For each pooled token: the index (into anchors) it is assigned to.
    var anchor: [Int]
    /// For each pooled token: its similarity to that anchor (the maximum over anchors).
    var similarity: [Float]

    /// Before it has run: no pooled tokens.
    static let none = AnchorAssignment(anchor: [], similarity: [])

    private init(anchor: [Int], similarity: [Float]) {
        self.anchor = anchor
        self.similarity = similarity
    }

    init(_ audio: AudioFeatures, pooled: Int, anchors: Int, buffers: BufferPool) throws(OmniZipError) {
        anchor = [Int](repeating: 0, count: pooled)
        similarity = [Float](repeating: 0, count: pooled)
        guard pooled > 0, anchors > 0 else { return }
        let sims = try Scratch<Float>.required(pooled * anchors, from: buffers)
        Kernels.gemmABt(audio.poolUnit.base, audio.anchorUnit.base, sims.base, m: pooled, n: anchors, k: audio.dimension)
        for i in 0..<pooled {
            let row = UnsafeBufferPointer(start: sims.base + i * anchors, count: anchors)
            let c = Selection.argmax(row)
            anchor[i] = c
            similarity[i] = row[c]
        }
    }
}
