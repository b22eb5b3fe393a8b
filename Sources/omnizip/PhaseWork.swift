import OmniZipCore

/// The floating-point work of each phase of one compression, counted from its plan (a
/// multiply-add is two operations): what `omnizip bench` divides by each phase's time.
struct PhaseWork {
    var audio = 0.0
    /// The per-frame pass (with the anchor GEMM beside it) and the cross-modal tiles.
    var frames = 0.0, crossModal = 0.0

    /// `tiles`: the cross-modal products run as BF16 tiles, else inside the per-frame pass.
    init(plan: BudgetPlan, layout: ChunkLayout, dimension d: Int, tiles: Bool) {
        let d = Double(d)
        let pooled = Double(plan.audio.pool.count), anchors = Double(plan.audio.anchors.count)
        // Audio: norm and division of each pooled and anchor row.
        audio = (pooled + anchors) * 3 * d
        let p = Double(layout.tokensPerFrame)
        let products = 2 * pooled * Double(layout.videoTokenCount) * d
        frames = Double(layout.videoTokenCount) * 2 * d + 2 * pooled * anchors * d + (tiles ? 0 : products)
        crossModal = tiles ? products : 0
        for counts in plan.videoFrameKept {
            guard let counts else { continue }
            for (frame, kept) in counts.enumerated() where kept > 0 && kept < layout.tokensPerFrame {
                frames += frame % 2 == 0 ? 2 * p * p * d : 2 * p * d
            }
        }
    }
}
