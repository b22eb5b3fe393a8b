#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The merge half of stage 1: each anchor absorbs up to G of its pooled tokens (highest
/// cross-modal score first), weighted by a softmax over those scores. Anchors are independent:
/// each is a unit of work writing its own row.
struct AudioMerge {
    /// Anchors whose embedding changed, ascending audio indices.
    let anchors: [Int]
    /// Their merged values, row-major float32.
    let embeddings: [Float]
    /// Per merged anchor: the pooled audio indices it absorbed, highest cross-modal score first.
    let sources: [[Int]]
    /// Per merged anchor: those sources' cross-modal scores (the softmax's inputs), same order.
    var scores: [[Float]] { chosen.map { $0.map { crossModal[$0] } } }
    private let chosen: [[Int]]
    private let crossModal: [Float]

    init(plan: AudioSelection, assignment: [Int], crossModal: [Float], g: Int, rows: TokenRows, pool: WorkerPool) throws(OmniZipError) {
        let d = rows.dimension
        var members = [[Int]](repeating: [], count: plan.anchors.count) // pool slots per anchor
        for (slot, anchor) in assignment.enumerated() {
            members[anchor].append(slot)
        }
        let merging = members.indices.filter { !members[$0].isEmpty } // anchor slots, ascending
        let chosen = merging.map { c in
            let slots = members[c]
            return Selection.ranked(slots.count, min(g, slots.count)) { crossModal[slots[$0]] }.map { slots[$0] }
        }
        var values = [Float](repeating: 0, count: merging.count * d)
        let failure = Locked<OmniZipError?>(nil)
        values.withUnsafeMutableBufferPointer { values in
            pool.run(
                units: merging.count,
                prepare: { _ -> (Scratch<Float>, Scratch<Float>)? in
                    do throws(OmniZipError) {
                        return (try .required(d, from: pool.buffers), try .required(d, from: pool.buffers))
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                        return nil
                    }
                }
            ) { rowScratch, m in
                guard let (anchorScratch, memberScratch) = rowScratch else { return }
                let (anchorRow, memberRow) = (anchorScratch.base, memberScratch.base)
                let weights = Self.softmax(chosen[m].map { crossModal[$0] })
                var weightSum: Float = 0
                for w in weights { weightSum += w }

                let sum = values.baseAddress! + m * d
                for j in 0..<d { sum[j] = 0 }
                for (k, slot) in chosen[m].enumerated() {
                    _ = rows.widen(plan.pool[slot], into: memberRow)
                    for j in 0..<d { sum[j] += weights[k] * memberRow[j] }
                }
                _ = rows.widen(plan.anchors[merging[m]], into: anchorRow)
                for j in 0..<d { sum[j] = (anchorRow[j] + sum[j]) / (1 + weightSum) }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw failure }
        anchors = merging.map { plan.anchors[$0] }
        embeddings = values
        sources = chosen.map { $0.map { plan.pool[$0] } }
        self.chosen = chosen
        self.crossModal = crossModal
    }

    /// The merge weights of one anchor's sources from their cross-modal scores.
    static func softmax(_ scores: [Float]) -> [Float] {
        let peak = scores.max() ?? 0
        let exps = scores.map { expf($0 - peak) }
        var total: Float = 0
        for e in exps { total += e }
        return exps.map { $0 / total }
    }
}
