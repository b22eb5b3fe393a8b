/// Stage 1 without embeddings: which audio tokens stay (dominant + anchors) and which are
/// pooled for merging. Depends only on the scores, N, rho_a, cr and G.
public struct AudioSelection: Sendable, Equatable {
    /// Per audio token: kept (dominant or anchor).
    public var keep: [Bool]
    /// Anchor indices, ascending: kept contextual tokens that receive merges.
    public var anchors: [Int]
    /// Not-kept, non-anchor indices, ascending: candidates for merging into anchors.
    public var pool: [Int]

    public init(scores: [Float], parameters: Parameters) {
        let n = scores.count
        keep = Array(repeating: false, count: n)
        anchors = []
        pool = []
        guard n > 0 else { return }

        let dominant = PythonArithmetic.truncate(
            max(0, min(Double(n), PythonArithmetic.roundHalfEven((1 - parameters.rhoAudio) * Double(n)))))
        for i in Selection.largest(n, dominant, value: { scores[$0] }) { keep[i] = true }

        let remaining = (0..<n).filter { !keep[$0] }
        var contextual = PythonArithmetic.truncate(max(0, PythonArithmetic.roundHalfEven(parameters.contextualRatio * Double(n))))
        guard !remaining.isEmpty, contextual > 0, parameters.g > 0 else { return }

        contextual = min(contextual, remaining.count)
        let step = max(1, remaining.count / contextual)
        var isAnchor = Array(repeating: false, count: remaining.count)
        for c in 0..<contextual {
            isAnchor[c * step] = true
            anchors.append(remaining[c * step])
            keep[remaining[c * step]] = true
        }
        pool = remaining.indices.filter { !isAnchor[$0] }.map { remaining[$0] }
    }
}
