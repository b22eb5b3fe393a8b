/// The audio tokens as a strip, one row per audio run (long runs wrap): blue kept for their
/// score, amber anchors, pale amber the tokens merged into an anchor (each linked to it by a
/// curve), empty the rest. Cells are unit squares in a scaled group, labels stay in pixels.
enum AudioStrip {
    static let wrap = 100

    static func svg(_ model: ReportModel) -> String {
        // Rows: (chunk, first audio token, length).
        var rows: [(chunk: Int, start: Int, count: Int)] = []
        for chunk in model.chunks {
            guard let audio = chunk.audio else { continue }
            var start = audio.lowerBound
            while start < audio.upperBound {
                let count = min(wrap, audio.upperBound - start)
                rows.append((chunk.index, start, count))
                start += count
            }
        }
        guard !rows.isEmpty else { return "<p class=\"mute\">No audio tokens.</p>" }
        let widest = rows.map(\.count).max() ?? 1
        let cell = min(12, max(5, 900 / Double(widest)))
        let pitch = 1.7 // row height in cells: the gap carries the links
        let left = 92.0, top = 6.0
        var place: [Int: (x: Int, y: Double)] = [:]
        for (r, row) in rows.enumerated() {
            for k in 0..<row.count { place[row.start + k] = (k, Double(r) * pitch + 0.35) }
        }
        let width = left + Double(widest) * cell + 10
        let height = top + Double(rows.count) * pitch * cell + 8
        var s = "<svg width=\"\(Markup.n(width))\" height=\"\(Markup.n(height))\">"
        for (r, row) in rows.enumerated() {
            let y = top + (Double(r) * pitch + 0.35 + 0.8) * cell
            let kept = model.result.audioKeep[row.start..<(row.start + row.count)].filter { $0 }.count
            let label =
                row.start == model.chunks[row.chunk].audio?.lowerBound ? "chunk \(row.chunk)  \(kept)/\(row.count)" : "…  \(kept)/\(row.count)"
            s += "<text class=\"lbl\" x=\"0\" y=\"\(Markup.n(y))\">\(label)</text>"
        }
        s += "<g transform=\"translate(\(Markup.n(left)),\(Markup.n(top))) scale(\(Markup.n(cell)))\">"
        for (r, row) in rows.enumerated() {
            s += "<rect class=\"bg\" x=\"0\" y=\"\(Markup.n(Double(r) * pitch + 0.35))\" width=\"\(row.count)\" height=\"1\"/>"
        }
        func cells(_ role: ReportModel.AudioRole) -> String {
            var out = ""
            for (i, r) in model.audioRoles.enumerated() where r == role {
                let at = place[i]!
                out += "<rect x=\"\(at.x)\" y=\"\(Markup.n(at.y))\" width=\"1\" height=\"1\"/>"
            }
            return out
        }
        s += "<g class=\"ka\"><g class=\"d\">\(cells(.dominant))</g><g class=\"a\">\(cells(.anchor))</g></g>"
        s += "<g class=\"m\">\(cells(.merged))</g>"
        // Links: from each merged-away token up to its anchor, arching through the row gap.
        var d = ""
        for (source, anchor) in model.mergedInto.sorted(by: { $0.key < $1.key }) {
            let a = place[source]!, b = place[anchor]!
            let x1 = Double(a.x) + 0.5, x2 = Double(b.x) + 0.5
            let y1 = a.y, y2 = b.y
            let lift = y1 == y2 ? min(0.65, 0.15 + abs(x2 - x1) * 0.03) : 0.3
            let cy = min(y1, y2) - lift
            d += "M\(Markup.n(x1)) \(Markup.n(y1))Q\(Markup.n((x1 + x2) / 2)) \(Markup.n(cy)) \(Markup.n(x2)) \(Markup.n(y2))"
        }
        if !d.isEmpty { s += "<path class=\"links\" d=\"\(d)\"/>" }
        s += "</g></svg>"
        return s
    }
}
