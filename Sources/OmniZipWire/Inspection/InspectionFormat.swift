import OmniZipCore

/// `omnizip inspect`'s two renderings of a `FileInspection`: aligned text for people, one JSON
/// object for scripts (`--json`). Both carry the same facts.
extension FileInspection {
    public func text(path: String) -> String {
        var out = "\(path): \(grouped(fileBytes)) bytes (header \(grouped(headerBytes)), data \(grouped(fileBytes - headerBytes)))\n"
        out += "kind: \(kindDescription)\n\n"
        out += "tensors (\(tensors.count)):\n"
        var rows = [["name", "dtype", "shape", "bytes", "min", "max", "mean", "note"]]
        for t in tensors {
            var note: [String] = []
            if let s = t.stats, s.nonFinite > 0 { note.append("\(s.nonFinite) NaN/Inf") }
            if let s = t.stats, let trues = s.trueCount { note.append("\(trues) true") }
            rows.append([
                t.name, t.dtype, "[" + t.shape.map(String.init).joined(separator: ", ") + "]",
                "\(t.byteRange.lowerBound)..<\(t.byteRange.upperBound)",
                t.stats?.min ?? "-", t.stats?.max ?? "-", t.stats?.mean.map(short) ?? "-", note.joined(separator: ", "),
            ])
        }
        out += table(rows)
        out += "\nmetadata (\(metadata.count)):\n"
        out += metadata.isEmpty ? "  (none)\n" : table(metadata.keys.sorted().map { [$0, metadata[$0]!] }, header: false)
        guard kind == .request else { return out }

        if let r = request {
            out += "\nlayout: \(r.layout.rawValue)\n"
            let text = r.layout == .interleaved ? "\(r.textTokens) text, " : ""
            out += "  tokens: \(r.promptLength) (\(text)\(r.audioTokens) audio, \(r.videoTokens) video)"
            if let d = r.dimension, let dtype = r.embeddingDType { out += "; D = \(d), \(dtype)" }
            out += "\n"
            if let grid = r.grid {
                out +=
                    "  video_grid_thw [\(grid.map(String.init).joined(separator: ", "))]: frames of \(r.frameRows) x \(r.frameColumns) patches, P = \(r.tokensPerFrame) tokens per frame\n"
            }
            out += "  runs: \(r.videoRuns.count) video, \(r.audioRuns.count) audio, \(r.guidedRuns) guided (video run i pairs with audio run i)\n"
            out += "    video run lengths: \(runList(r.videoRuns))\n"
            out += "    frames per video run: \(runList(r.framesPerRun))\n"
            out += "    audio run lengths: \(runList(r.audioRuns))\n"
            let set = r.parametersSet.map { "\($0.0)=\($0.1)" }
            out += "  parameters set by __metadata__: \(set.isEmpty ? "none" : set.joined(separator: ", "))\n"
            let p = r.parameters
            out +=
                "  parameters in force: rho_audio=\(p.rhoAudio), rho_video=\(p.rhoVideo), contextual_ratio=\(p.contextualRatio), g=\(p.g), video_budget=\(p.videoBudget.rawValue), audio_token_id=\(r.audioTokenID), video_token_id=\(r.videoTokenID)\n"
        }
        out += "\nPOST /v1/compress: \(verdictText(compress))\n"
        out += "POST /v1/score:    \(verdictText(score))\n"
        return out
    }

    public func json(path: String) -> String {
        var members: [(String, String)] = [
            ("file", JSONText.string(path)), ("bytes", String(fileBytes)), ("header_bytes", String(headerBytes)),
            ("kind", JSONText.string(kind.rawValue)),
            ("metadata", JSONText.object(metadata.keys.sorted().map { ($0, JSONText.string(metadata[$0]!)) })),
            ("tensors", "[" + tensors.map(tensorJSON).joined(separator: ",") + "]"),
        ]
        if let r = request {
            var layout: [(String, String)] = [
                ("layout", JSONText.string(r.layout.rawValue)), ("tokens", String(r.promptLength)),
                ("text_tokens", String(r.textTokens)), ("audio_tokens", String(r.audioTokens)), ("video_tokens", String(r.videoTokens)),
                ("audio_runs", ints(r.audioRuns)), ("video_runs", ints(r.videoRuns)), ("guided_runs", String(r.guidedRuns)),
                ("tokens_per_frame", String(r.tokensPerFrame)), ("frame_grid", ints([r.frameRows, r.frameColumns])),
                ("frames_per_run", ints(r.framesPerRun)),
            ]
            if let grid = r.grid { layout.append(("video_grid_thw", "[" + grid.map(String.init).joined(separator: ",") + "]")) }
            if let d = r.dimension { layout.append(("dimension", String(d))) }
            if let dtype = r.embeddingDType { layout.append(("embedding_dtype", JSONText.string(dtype))) }
            layout.append(("parameters_set", JSONText.object(r.parametersSet.map { ($0.0, JSONText.string($0.1)) })))
            layout.append(("parameters", CompressJSON.parameters(r.parameters)))
            layout.append(("audio_token_id", String(r.audioTokenID)))
            layout.append(("video_token_id", String(r.videoTokenID)))
            members.append(("request", JSONText.object(layout)))
        }
        if let compress { members.append(("compress", verdictJSON(compress))) }
        if let score { members.append(("score", verdictJSON(score))) }
        return JSONText.object(members) + "\n"
    }

    private var kindDescription: String {
        switch kind {
        case .request: request.map { "\($0.layout.rawValue) request" } ?? "request (does not decode; see below)"
        case .compressResponse: "/v1/compress response"
        case .scoreResponse: "/v1/score response (safetensors)"
        case .other: "safetensors file (not a request or response)"
        }
    }

    private func verdictText(_ verdict: RequestVerdict?) -> String {
        switch verdict {
        case let .accepted(c)?:
            "200, keeps \(c.kept) of \(c.total) tokens (audio \(c.keptAudio) of \(c.totalAudio), video \(c.keptVideo) of \(c.totalVideo)\(c.merged > 0 ? ", \(c.merged) anchors merged" : ""))"
        case let .refused(error)?: "400 \(error.code.rawValue): \(error.message)"
        case nil: "-"
        }
    }

    private func verdictJSON(_ verdict: RequestVerdict) -> String {
        switch verdict {
        case let .accepted(c):
            JSONText.object([
                ("status", "200"), ("kept", String(c.kept)), ("total", String(c.total)),
                ("kept_audio", String(c.keptAudio)), ("total_audio", String(c.totalAudio)),
                ("kept_video", String(c.keptVideo)), ("total_video", String(c.totalVideo)), ("merged", String(c.merged)),
            ])
        case let .refused(error):
            JSONText.object([
                ("status", "400"),
                (
                    "error",
                    JSONText.object([
                        ("code", JSONText.string(error.code.rawValue)),
                        ("message", JSONText.string(error.message)),
                    ])
                ),
            ])
        }
    }

    private func tensorJSON(_ t: Tensor) -> String {
        var members: [(String, String)] = [
            ("name", JSONText.string(t.name)), ("dtype", JSONText.string(t.dtype)), ("shape", ints(t.shape)),
            ("byte_range", ints([t.byteRange.lowerBound, t.byteRange.upperBound])),
        ]
        if let s = t.stats {
            var stats: [(String, String)] = [("count", String(s.count))]
            // BOOL extremes are words; as JSON they become booleans.
            if let min = s.min { stats.append(("min", min)) }
            if let max = s.max { stats.append(("max", max)) }
            if let mean = s.mean { stats.append(("mean", JSONText.number(mean))) }
            if t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16" || t.dtype == "F64" { stats.append(("non_finite", String(s.nonFinite))) }
            if let trues = s.trueCount { stats.append(("true", String(trues))) }
            members.append(("stats", JSONText.object(stats)))
        }
        return JSONText.object(members)
    }

    private func ints(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

    /// "240 x29, 100": runs of equal values collapsed, so a minute of chunks fits on a line.
    private func runList(_ values: [Int]) -> String {
        guard !values.isEmpty else { return "none" }
        var parts: [String] = []
        var i = 0
        while i < values.count {
            var j = i
            while j + 1 < values.count, values[j + 1] == values[i] { j += 1 }
            parts.append(j > i ? "\(values[i]) x\(j - i + 1)" : String(values[i]))
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }

    private func short(_ x: Double) -> String { cFormat("%.6g", x) }

    private func grouped(_ n: Int) -> String { DigitGrouping.grouped(n) }

    private func table(_ rows: [[String]], header: Bool = true) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            "  "
                + row.enumerated().map { c, cell in
                    c == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - cell.count)
                }.joined(separator: "  ").trimmingSpaces(leading: false)
        }.joined(separator: "\n") + "\n"
    }
}
