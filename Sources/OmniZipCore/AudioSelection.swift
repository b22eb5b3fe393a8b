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

        let dominant = Self.dominantCount(n, parameters)
        for i in Selection.largest(n, dominant, value: { scores[$0] }) { keep[i] = true }

        let remaining = (0..<n).filter { !keep[$0] }
        let contextual = Self.anchorCount(n, parameters)
        guard contextual > 0 else { return }
        let step = max(1, remaining.count / contextual)
        var isAnchor = Array(repeating: false, count: remaining.count)
        for c in 0..<contextual {
            isAnchor[c * step] = true
            anchors.append(remaining[c * step])
            keep[remaining[c * step]] = true
        }
        pool = remaining.indices.filter { !isAnchor[$0] }.map { remaining[$0] }
    }

    /// `dom`: the tokens kept for their score.
    static func dominantCount(_ n: Int, _ parameters: Parameters) -> Int {
        PythonArithmetic.truncate(max(0, min(Double(n), PythonArithmetic.roundHalfEven((1 - parameters.rhoAudio) * Double(n)))))
    }

    /// Anchors: `min(C, N - dom)` contextual tokens when any remain and merging is on.
    static func anchorCount(_ n: Int, _ parameters: Parameters) -> Int {
        let remaining = n - dominantCount(n, parameters)
        let contextual = PythonArithmetic.truncate(max(0, PythonArithmetic.roundHalfEven(parameters.contextualRatio * Double(n))))
        guard remaining > 0, contextual > 0, parameters.g > 0 else { return 0 }
        return min(contextual, remaining)
    }

    /// How many of `n` audio tokens stage 1 keeps: known from the count and parameters alone.
    public static func keptCount(_ n: Int, parameters: Parameters) -> Int {
        n == 0 ? 0 : dominantCount(n, parameters) + anchorCount(n, parameters)
    }
}
