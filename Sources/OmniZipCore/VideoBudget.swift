/// Stage 2: turns each guided chunk's audio retention into that chunk's video merging ratio,
/// renormalised so the guided runs meet the global budget. All double precision, summed left
/// to right in exactly the reference's order (the last bits depend on it).
public struct VideoBudget: Sendable, Equatable {
    /// Kept fraction of each guided audio run (float32 mean widened to double).
    public var audioChunkRetention: [Double]
    /// Merging ratio per video run: adjusted for guided runs, rho_v for the rest.
    public var videoChunkRatio: [Double]
    /// Each guided run's ratio from its own retention alone, before the renormalisation (kept so
    /// a report can show what the renormalisation changed without redoing the arithmetic).
    public var baseRatio: [Double]

    public init(audioKeep: [Bool], layout: ChunkLayout, rhoVideo: Double) {
        let lo = Parameters.ratioFloor, hi = Parameters.ratioCeiling
        let guided = layout.guidedRunCount

        var retention: [Double] = []
        var start = 0
        for length in layout.audioRunLengths.prefix(guided) {
            var kept = 0
            for i in start..<(start + length) where audioKeep[i] { kept += 1 }
            retention.append(Double(Float(kept) / Float(length)))
            start += length
        }
        // Ranges over the audio runs that are not guided are never read: skipped above.

        let base = retention.map { min(max(hi + (lo - hi) * $0, lo), hi) }
        let sizes = layout.videoRunLengths.prefix(guided).map(Double.init)
        var unguided = 0.0
        for size in layout.videoRunLengths.dropFirst(guided) { unguided += Double(size) }
        let target = rhoVideo * Double(layout.gridTokens) - rhoVideo * unguided

        var adjusted = base
        if guided > 2, sizes.reduce(0, +) > 0 {
            var baseSum = 0.0
            for i in 0..<guided { baseSum += base[i] * sizes[i] }
            if abs(baseSum - target) > 1e-3, baseSum > 0 {
                var mn = 0, mx = 0
                for i in 1..<guided {
                    if base[i] < base[mn] { mn = i }
                    if base[i] > base[mx] { mx = i }
                }
                let others = (0..<guided).filter { $0 != mn && $0 != mx }
                var othersSum = 0.0
                for i in others { othersSum += base[i] * sizes[i] }
                if !others.isEmpty, othersSum > 0 {
                    // When mn == mx the fixed term counts that run twice, as the reference does.
                    let scale = (target - (base[mn] * sizes[mn] + base[mx] * sizes[mx])) / othersSum
                    for i in others { adjusted[i] = min(max(base[i] * scale, lo), hi) }
                    var total = 0.0
                    for i in 0..<guided { total += adjusted[i] * sizes[i] }
                    let deficit = target - total
                    if abs(deficit) > 1e-3 {
                        var otherSizes = 0.0
                        for i in others { otherSizes += sizes[i] }
                        for i in others { adjusted[i] = min(max(adjusted[i] + deficit / otherSizes, lo), hi) }
                    }
                }
            }
        }

        audioChunkRetention = retention
        baseRatio = base
        videoChunkRatio = layout.videoRunLengths.indices.map { $0 < guided ? adjusted[$0] : rhoVideo }
    }
}
