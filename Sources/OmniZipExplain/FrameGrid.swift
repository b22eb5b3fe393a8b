/// One frame as its (H/2) x (W/2) patch grid: every patch a cell, kept patches filled (teal
/// on even frames, pruned by DPC-kNN; purple on odd frames, pruned by change since the previous
/// frame), dropped ones left empty. Drawn in cell units and scaled by the SVG viewport, so a
/// kept patch costs one short `<rect>`; each kept video token is exactly one rect in a `g.kv`.
///
/// With the compression's trace, a frame drawn in full is a heat map instead: every cell
/// coloured by the value the frame ranked it by (even: DPC-kNN score; odd: change 1 − cosine to
/// the frame before), each with its `<title>` and exact value (`data-v`); kept cells stay the
/// `g.kv` rects, outlined over the heat map, dropped ones faded.
enum FrameGrid {
    /// Heat map colour steps (low to high), as CSS classes h0...h7.
    static let levels = 8

    static func svg(_ model: ReportModel, frame: ReportModel.Frame, cell: Double, lines: Bool) -> String {
        let rows = model.frameRows, cols = model.frameColumns
        let p = rows * cols
        var s = "<svg width=\"\(Markup.n(Double(cols) * cell))\" height=\"\(Markup.n(Double(rows) * cell))\" viewBox=\"0 0 \(cols) \(rows)\">"
        s += "<rect class=\"bg\" width=\"\(cols)\" height=\"\(rows)\"/>"
        if lines { s += "<rect class=\"grid\" width=\"\(cols)\" height=\"\(rows)\"/>" }
        s += "<g class=\"kv \(frame.isEven ? "e" : "o")\">"
        let keep = model.result.videoKeep
        for r in 0..<p where keep[frame.start + r] {
            s += "<rect x=\"\(r % cols)\" y=\"\(r / cols)\" width=\"1\" height=\"1\"/>"
        }
        s += "</g></svg>"
        return s
    }

    /// A frame as the heat map of its ranking values (`values`: the trace's, per video token).
    static func heat(_ model: ReportModel, chunk: ReportModel.Chunk, frame: ReportModel.Frame, values: [Float], cell: Double) -> String {
        let rows = model.frameRows, cols = model.frameColumns
        let p = rows * cols
        let keep = model.result.videoKeep
        let raw = Array(values[frame.start..<(frame.start + p)])
        // Even frames keep the highest score, odd frames the lowest cosine: shown as change
        // 1 − cosine (exact in double) so that hot means kept-first in both.
        let shown = raw.map { frame.isEven ? Double($0) : 1 - Double($0) }
        let low = shown.min() ?? 0, high = shown.max() ?? 0
        let order = (0..<p).sorted { a, b in shown[a] != shown[b] ? shown[a] > shown[b] : a < b }
        var rank = [Int](repeating: 0, count: p)
        for (place, r) in order.enumerated() { rank[r] = place + 1 }
        let span = model.seconds(frame, of: chunk).map { " · \(Markup.span($0))" } ?? ""
        let interleaved = model.request.layout == .interleaved
        var s =
            "<svg class=\"hmf\" width=\"\(Markup.n(Double(cols) * cell))\" height=\"\(Markup.n(Double(rows) * cell))\" viewBox=\"0 0 \(cols) \(rows)\" data-chunk=\"\(chunk.index)\" data-frame=\"\(frame.index)\" data-start=\"\(frame.start)\" data-kept=\"\(frame.kept)\" data-rank=\"\(frame.isEven ? "high" : "low")\">"
        s += "<g class=\"hm\">"
        for r in 0..<p {
            let t = frame.start + r
            let level = high > low ? min(levels - 1, Int((shown[r] - low) / (high - low) * Double(levels))) : levels / 2
            var title = "video token \(t)"
            if interleaved, t < model.request.videoPositions.count { title += " (prompt position \(model.request.videoPositions[t]))" }
            title += " · chunk \(chunk.index), frame \(frame.index)\(span) · row \(r / cols), column \(r % cols) · "
            if frame.isEven {
                title += "DPC-kNN score \(Markup.value(raw[r]))"
            } else {
                title += "change 1 − cos \(Markup.value(shown[r])) (cosine to frame \(frame.index - 1): \(Markup.value(raw[r])))"
            }
            title += " · #\(rank[r]) of \(p) · \(keep[t] ? "kept" : "dropped") (the frame keeps \(frame.kept))"
            s +=
                "<rect class=\"h\(level)\(keep[t] ? "" : " x")\" x=\"\(r % cols)\" y=\"\(r / cols)\" width=\"1\" height=\"1\" data-v=\"\(Markup.exact(raw[r]))\"><title>\(Markup.escape(title))</title></rect>"
        }
        s += "</g><g class=\"kv \(frame.isEven ? "e" : "o")\">"
        for r in 0..<p where keep[frame.start + r] {
            s += "<rect x=\"\(r % cols)\" y=\"\(r / cols)\" width=\"1\" height=\"1\"/>"
        }
        s += "</g></svg>"
        return s
    }

    /// Video tokens outside whole frames: a run shorter than one frame (kept whole, filled) or
    /// the tokens past a run's last whole frame (dropped, empty), laid out `cols` to a row.
    static func loose(_ model: ReportModel, _ range: Range<Int>, cell: Double) -> String {
        let cols = max(1, min(range.count, model.frameColumns))
        let rows = (range.count + cols - 1) / cols
        var s = "<svg width=\"\(Markup.n(Double(cols) * cell))\" height=\"\(Markup.n(Double(rows) * cell))\" viewBox=\"0 0 \(cols) \(rows)\">"
        s += "<rect class=\"bg\" width=\"\(cols)\" height=\"\(rows)\"/><g class=\"kv w\">"
        let keep = model.result.videoKeep
        for (k, t) in range.enumerated() where keep[t] {
            s += "<rect x=\"\(k % cols)\" y=\"\(k / cols)\" width=\"1\" height=\"1\"/>"
        }
        s += "</g></svg>"
        return s
    }

    static func caption(_ model: ReportModel, _ chunk: ReportModel.Chunk, _ frame: ReportModel.Frame, p: Int) -> String {
        let span = model.seconds(frame, of: chunk).map { "\(Markup.span($0)) · " } ?? ""
        return "frame \(frame.index) · \(frame.isEven ? "even · DPC-kNN" : "odd · temporal")<br>\(span)\(frame.kept)/\(p) kept"
    }
}
