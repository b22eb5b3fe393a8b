#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The merge half of stage 1: each anchor absorbs up to G of its pooled tokens (highest
/// cross-modal score first), weighted by a softmax over those scores.
struct AudioMerge {
    /// Anchors whose embedding changed, ascending audio indices.
    let anchors: [Int]
    /// Their merged values, row-major float32.
    let embeddings: [Float]
    /// Per merged anchor: the pooled audio indices it absorbed, highest cross-modal score first.
    let sources: [[Int]]

    init(audio: borrowing AudioFeatures, plan: AudioSelection, crossModal: [Float], g: Int, rows: TokenRows) {
        let d = audio.dimension
        var members = [[Int]](repeating: [], count: plan.anchors.count) // pool slots per anchor
        for (slot, anchor) in audio.assignment.enumerated() {
            members[anchor].append(slot)
        }
        var merged: [Int] = []
        var absorbed: [[Int]] = []
        var values: [Float] = []
        var anchorRow = [Float](repeating: 0, count: d), memberRow = [Float](repeating: 0, count: d)
        var sum = [Float](repeating: 0, count: d)
        for (c, slots) in members.enumerated() where !slots.isEmpty {
            let take = min(g, slots.count)
            let chosen = Selection.ranked(slots.count, take) { crossModal[slots[$0]] }.map { slots[$0] }
            let scores = chosen.map { crossModal[$0] }
            let peak = scores.max() ?? 0
            let exps = scores.map { expf($0 - peak) }
            var total: Float = 0
            for e in exps { total += e }
            let weights = exps.map { $0 / total }
            var weightSum: Float = 0
            for w in weights { weightSum += w }

            for j in 0..<d { sum[j] = 0 }
            for (k, slot) in chosen.enumerated() {
                _ = rows.widen(plan.pool[slot], into: &memberRow)
                for j in 0..<d { sum[j] += weights[k] * memberRow[j] }
            }
            _ = rows.widen(plan.anchors[c], into: &anchorRow)
            merged.append(plan.anchors[c])
            absorbed.append(chosen.map { plan.pool[$0] })
            for j in 0..<d { values.append((anchorRow[j] + sum[j]) / (1 + weightSum)) }
        }
        anchors = merged
        embeddings = values
        sources = absorbed
    }
}
