/// The audio tokens, one row per audio run (long runs wrap): above, each token's importance
/// score as a bar coloured by its role, with a dashed line at the cut-off of stage 1's global
/// selection; below, the role cells: blue kept for their score, amber anchors, pale amber the
/// tokens merged into an anchor (each linked to it by a curve), empty the rest. Every bar holds
/// the token's numbers in its `<title>` and `data-*` (index, score, and for pooled tokens the
/// anchor, cross-modal score and merge weight), so a reader can hover and a test can read them.
/// Drawn in cell units in a scaled group; labels stay in pixels.
enum AudioStrip {
    static let wrap = 50
    /// Bar height, in cells.
    static let barHeight = 4.0

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
        let scores = model.request.scores
        let low = min(0, scores.min() ?? 0), high = max(scores.max() ?? 1, low + Float.leastNormalMagnitude)
        func barTop(_ s: Float) -> Double { barHeight * (1 - Double((s - low) / (high - low))) }

        let widest = rows.map(\.count).max() ?? 1
        let cell = min(12, max(5, 528 / Double(widest)))
        let cellTop = barHeight + 0.15 // the role cells, below the bars
        let pitch = cellTop + 1 + 0.95 // row height in cells: the gap below carries the links
        let left = 96.0, top = 6.0
        var place: [Int: (x: Int, y: Double)] = [:]
        for (r, row) in rows.enumerated() {
            for k in 0..<row.count { place[row.start + k] = (k, Double(r) * pitch + cellTop) }
        }
        let width = left + Double(widest) * cell + 10
        let height = top + Double(rows.count) * pitch * cell + 4
        var s = "<svg class=\"audio\" width=\"\(Markup.n(width))\" height=\"\(Markup.n(height))\" data-dominant=\"\(model.dominantCount)\""
        if let cutoff = model.audioCutoff { s += " data-cutoff=\"\(Markup.exact(cutoff))\"" }
        s += " data-g=\"\(model.request.options.parameters.g)\" data-traced=\"\(model.trace == nil ? 0 : 1)\">"
        for (r, row) in rows.enumerated() {
            let chunk = model.chunks[row.chunk]
            let kept = model.result.audioKeep[row.start..<(row.start + row.count)].filter { $0 }.count
            let first = row.start == chunk.audio?.lowerBound
            let y = top + (Double(r) * pitch + barHeight * 0.5) * cell
            s +=
                "<text class=\"lbl\(first ? " k" : "")\" x=\"0\" y=\"\(Markup.n(y))\">\(first ? "chunk \(row.chunk)" : "…")  \(kept)/\(row.count)</text>"
            if let t0 = model.audioSeconds(row.start), let t1 = model.audioSeconds(row.start + row.count) {
                s += "<text class=\"lbl\" x=\"0\" y=\"\(Markup.n(y + 14))\">\(Markup.span((t0, t1)))</text>"
            }
        }
        s += "<g transform=\"translate(\(Markup.n(left)),\(Markup.n(top))) scale(\(Markup.n(cell)))\">"
        for (r, row) in rows.enumerated() {
            let y0 = Double(r) * pitch
            s += "<rect class=\"bg\" x=\"0\" y=\"\(Markup.n(y0 + cellTop))\" width=\"\(row.count)\" height=\"1\"/>"
            s += "<rect class=\"sb\" x=\"0\" y=\"\(Markup.n(y0))\" width=\"\(row.count)\" height=\"\(Markup.n(barHeight))\"/>"
        }
        // Bars: one per token, in token order.
        s += "<g class=\"bars\">"
        for (r, row) in rows.enumerated() {
            let y0 = Double(r) * pitch
            for k in 0..<row.count {
                let i = row.start + k
                let y = y0 + min(barTop(scores[i]), barHeight - 0.06)
                let role = model.audioRoles[i]
                var data = " data-i=\"\(i)\" data-s=\"\(Markup.exact(scores[i]))\""
                if let slot = model.poolSlot[i], let trace = model.trace {
                    data += " data-a=\"\(trace.assignedAnchor[slot])\" data-x=\"\(Markup.exact(trace.crossModal[slot]))\""
                    if let w = model.mergeWeight[i] { data += " data-w=\"\(Markup.exact(w))\"" }
                }
                s +=
                    "<rect class=\"\(barClass(role))\" x=\"\(k)\" y=\"\(Markup.n(y))\" width=\"1\" height=\"\(Markup.n(y0 + barHeight - y))\"\(data)><title>\(Markup.escape(title(model, i, chunk: row.chunk)))</title></rect>"
            }
        }
        s += "</g>"
        if let cutoff = model.audioCutoff {
            var d = ""
            let y = barTop(cutoff)
            for (r, row) in rows.enumerated() {
                d += "M0 \(Markup.n(Double(r) * pitch + y))H\(row.count)"
            }
            s += "<path class=\"cut\" d=\"\(d)\"/>"
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
        // Links: from each merged-away token to an anchor in its own row, arching through the gap
        // below (one in another row would cross the bars: its title and the merge table name it).
        var d = ""
        for (source, anchor) in model.mergedInto.sorted(by: { $0.key < $1.key }) {
            let a = place[source]!, b = place[anchor]!
            guard a.y == b.y else { continue }
            let x1 = Double(a.x) + 0.5, x2 = Double(b.x) + 0.5
            let y1 = a.y + 1, y2 = b.y + 1
            let cy = y1 + min(0.8, 0.2 + abs(x2 - x1) * 0.03)
            d += "M\(Markup.n(x1)) \(Markup.n(y1))Q\(Markup.n((x1 + x2) / 2)) \(Markup.n(cy)) \(Markup.n(x2)) \(Markup.n(y2))"
        }
        if !d.isEmpty { s += "<path class=\"links\" d=\"\(d)\"/>" }
        s += "</g></svg>"
        return s
    }

    static func barClass(_ role: ReportModel.AudioRole) -> String {
        switch role {
        case .dominant: "bd"
        case .anchor: "ba"
        case .merged: "bm"
        case .dropped: "bx"
        }
    }

    /// A token's hover text: index, time, score and rank, role, and what the merge did with it.
    static func title(_ model: ReportModel, _ i: Int, chunk: Int) -> String {
        let scores = model.request.scores
        var t = "audio token \(i)"
        if model.request.layout == .interleaved, i < model.request.audioPositions.count {
            t += " (prompt position \(model.request.audioPositions[i]))"
        }
        t += " · chunk \(chunk)"
        if let seconds = model.audioSeconds(i) { t += " · \(Markup.seconds(seconds))" }
        t += " · score \(Markup.value(scores[i])) (#\(model.audioRank[i]) of \(scores.count))"
        let trace = model.trace
        let slot = model.poolSlot[i]
        switch model.audioRoles[i] {
        case .dominant:
            t += " · kept by score (in the top \(model.dominantCount))"
        case .anchor:
            t += " · anchor (kept, evenly spaced among the tokens below the cut-off)"
            if let m = model.result.mergedAnchors.firstIndex(of: i) {
                let sources = model.result.mergedSources[m]
                let parts = sources.map { source in
                    let x = model.poolSlot[source].flatMap { slot in trace.map { $0.crossModal[slot] } }
                    let w = model.mergeWeight[source]
                    return "\(source)" + (x.map { " x \(Markup.value($0))" } ?? "") + (w.map { " w \(Markup.value($0))" } ?? "")
                }
                t += "; absorbs \(parts.joined(separator: ", "))"
            } else {
                t += "; absorbs nothing"
            }
        case .merged:
            t += " · below the cut-off, merged into anchor \(model.mergedInto[i]!) and dropped"
            if let slot, let trace {
                t += ": cross-modal score x \(Markup.value(trace.crossModal[slot]))"
                if let w = model.mergeWeight[i] { t += ", softmax weight \(Markup.value(w))" }
            }
        case .dropped:
            if let slot, let trace {
                t +=
                    " · below the cut-off, dropped: assigned to anchor \(trace.assignedAnchor[slot]) (similarity \(Markup.value(trace.anchorSimilarity[slot]))), x \(Markup.value(trace.crossModal[slot])) not among its top g"
            } else {
                t += " · below the cut-off, dropped"
            }
        }
        return t
    }
}
