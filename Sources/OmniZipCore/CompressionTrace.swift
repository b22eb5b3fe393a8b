/// What a compression ranked by, recorded only when asked (`Compressor.compress(_:trace:)`), for
/// the explain report: the values stage 3 chose each frame's tokens by and the scores the merge
/// ranked and weighted by. The numbers are the ones the decisions used, written by the same code
/// that decided; a compression without a trace records nothing and allocates nothing for it.
/// Identical at every worker count (each value is written by the one unit that computed it).
public final class CompressionTrace: @unchecked Sendable {
    /// Per video token: the value stage 3 ranked it by within its frame. Even frames: the
    /// DPC-kNN score `rho * delta` (the frame keeps its highest); odd frames: the cosine
    /// similarity to the same token of the frame before (the frame keeps its lowest). Frames
    /// that keep all or none of their tokens are scored too when traced (the choice does not
    /// depend on it). NaN for tokens outside whole frames and for runs kept whole.
    public internal(set) var videoValues: [Float] = []
    /// The pooled audio tokens (`plan.audio.pool`), ascending audio indices; the arrays below
    /// are indexed like it.
    public internal(set) var pool: [Int] = []
    /// Per pooled token: its cross-modal score `x` (the merge ranks and weights by it): the best
    /// cosine with any video token, or without video its similarity to its anchor.
    public internal(set) var crossModal: [Float] = []
    /// Per pooled token: the anchor it was assigned to (audio index), and its cosine with it.
    public internal(set) var assignedAnchor: [Int] = []
    public internal(set) var anchorSimilarity: [Float] = []
    /// Per merged anchor (`CompressionResult.mergedAnchors` order): the softmax weights of its
    /// sources, in `mergedSources` order (highest `x` first).
    public internal(set) var mergeWeights: [[Float]] = []

    public init() {}
}
