/// One frame as its (H/2) x (W/2) patch grid: every patch a cell, kept patches filled (teal
/// on even frames, pruned by DPC-kNN; purple on odd frames, pruned by change since the previous
/// frame), dropped ones left empty. Drawn in cell units and scaled by the SVG viewport, so a
/// kept patch costs one short `<rect>`; each kept video token is exactly one rect in a `g.kv`.
enum FrameGrid {
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

    static func caption(_ frame: ReportModel.Frame, p: Int) -> String {
        "frame \(frame.index) · \(frame.isEven ? "even · DPC-kNN" : "odd · temporal")<br>\(frame.kept) of \(p) kept"
    }
}
