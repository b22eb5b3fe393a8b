/// Stage 3's per-frame keep counts, per video run (nil for a run shorter than one frame, which
/// is kept whole), under either video budget.
enum FrameCounts {
    /// The reference's count for a frame of a run merged at `ratio`: `int(P * (1.0 - ratio))`.
    static func perFrame(_ p: Int, ratio: Double) -> Int {
        min(p, max(0, PythonArithmetic.truncate(Double(p) * (1.0 - ratio))))
    }

    static func make(layout: ChunkLayout, ratios: [Double], mode: VideoBudgetMode, rhoVideo: Double) -> [[Int]?] {
        let p = layout.tokensPerFrame
        var counts: [[Int]?] = layout.videoRunLengths.enumerated().map { run, length in
            let frames = length / p // P >= 1 whenever there is a video run
            return frames == 0 ? nil : Array(repeating: perFrame(p, ratio: ratios[run]), count: frames)
        }
        if mode == .exact {
            reconcile(&counts, p: p, ratios: ratios, target: ExactVideoTarget.tokens(layout: layout, rhoVideo: rhoVideo))
        }
        return counts
    }

    /// Largest remainder: moves the total to `target` one token per frame per pass, visiting
    /// frames by their run's fractional part (descending to add, ascending to remove), then run,
    /// then frame. Terminates because 0 <= target <= frames * P.
    static func reconcile(_ counts: inout [[Int]?], p: Int, ratios: [Double], target: Int) {
        var deficit = target
        for case let frames? in counts { deficit -= frames.reduce(0, +) }
        guard deficit != 0 else { return }
        let adding = deficit > 0
        let remainder = { (run: Int) -> Double in
            let exact = Double(p) * (1.0 - ratios[run])
            return exact - Double(perFrame(p, ratio: ratios[run]))
        }
        // Stable sort: equal remainders keep ascending run order.
        let runs = counts.indices.filter { counts[$0] != nil }
            .map { (run: $0, remainder: remainder($0)) }
            .sorted { adding ? $0.remainder > $1.remainder : $0.remainder < $1.remainder }
            .map(\.run)
        while deficit != 0 {
            var moved = false
            for run in runs {
                for frame in counts[run]!.indices where deficit != 0 {
                    let count = counts[run]![frame]
                    if adding, count < p {
                        counts[run]![frame] = count + 1; deficit -= 1; moved = true
                    } else if !adding, count > 0 {
                        counts[run]![frame] = count - 1; deficit += 1; moved = true
                    }
                }
                if deficit == 0 { break }
            }
            precondition(moved, "exact video budget: target out of reach")
        }
    }
}

/// K*, the video tokens kept under `video_budget=exact`: each whole frame of a run keeps
/// `int(P * (1 - aim))`, where aim is rho_v clamped to stage 2's bounds for a guided run and
/// rho_v for an unguided one. Runs shorter than one frame are not counted (they are kept whole).
public enum ExactVideoTarget {
    public static func tokens(layout: ChunkLayout, rhoVideo: Double) -> Int {
        let p = layout.tokensPerFrame
        let guidedAim = min(Parameters.ratioCeiling, max(Parameters.ratioFloor, rhoVideo))
        var total = 0
        for (run, length) in layout.videoRunLengths.enumerated() {
            let aim = run < layout.guidedRunCount ? guidedAim : rhoVideo
            total += (length / p) * FrameCounts.perFrame(p, ratio: aim)
        }
        return total
    }
}
