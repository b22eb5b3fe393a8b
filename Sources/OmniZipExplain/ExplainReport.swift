import OmniZipCore
import OmniZipWire

/// The explain report: one self-contained HTML page (inline CSS and SVG, no scripts, nothing
/// fetched) showing what a compression kept and why. It draws only from the request and the
/// `CompressionResult` that `/v1/compress` encodes, so its counts are that answer's counts.
public struct ExplainReport {
    let model: ReportModel
    let detail: ExplainDetail
    let source: String

    /// `source` names the request in the page (a file name, or "POST /v1/explain").
    public init(request: DecodedRequest, result: CompressionResult, detail: ExplainDetail = .auto, source: String) {
        model = ReportModel(request: request, result: result)
        self.detail = detail
        self.source = source
    }

    public func html() -> String {
        let c = model.counts
        var s = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        s += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        // No network: nothing may load, not even a favicon.
        s += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        s += "<link rel=\"icon\" href=\"data:,\">"
        s += "<title>omnizip explain · kept \(Markup.count(c.kept)) of \(Markup.count(c.total)) · \(Markup.escape(source))</title>"
        s += "<style>\(ReportStyle.css)</style></head><body>"
        // Shared pattern: the cell grid drawn under full-size frames.
        s +=
            "<svg width=\"0\" height=\"0\" style=\"position:absolute\"><defs><pattern id=\"cells\" width=\"1\" height=\"1\" patternUnits=\"userSpaceOnUse\"><path d=\"M1 0V1H0\" fill=\"none\" stroke=\"#cfd5de\" stroke-width=\".06\"/></pattern></defs></svg>"
        s += "<main>"
        s += summary()
        s += clip()
        s += frames()
        s += audio()
        s += numbers()
        s +=
            "<footer>omnizip explain · \(Markup.escape(source)) · the numbers are the ones /v1/compress answers for this request; the drawing holds one filled cell per kept token.</footer>"
        s += "</main></body></html>\n"
        return s
    }

    // MARK: sections

    private func summary() -> String {
        let c = model.counts, r = model.request, p = r.options.parameters
        let anchors = model.result.mergedAnchors.count
        let absorbed = model.mergedInto.count
        var s =
            "<section id=\"summary\" data-total=\"\(c.total)\" data-kept=\"\(c.kept)\" data-total-audio=\"\(c.totalAudio)\" data-kept-audio=\"\(c.keptAudio)\" data-total-video=\"\(c.totalVideo)\" data-kept-video=\"\(c.keptVideo)\" data-merged=\"\(c.merged)\">"
        s += "<h1>What OmniZip kept</h1><div class=\"mute\">\(Markup.escape(source))</div>"
        s +=
            "<p class=\"lead\">Kept <b>\(Markup.count(c.kept)) of \(Markup.count(c.total))</b> tokens (\(Markup.percent(c.kept, of: c.total))) in \(model.chunks.count) chunk\(model.chunks.count == 1 ? "" : "s").</p>"
        s += "<div class=\"cards\">"
        s +=
            "<div class=\"card\">audio<b>\(Markup.count(c.keptAudio)) / \(Markup.count(c.totalAudio))</b>\(Markup.percent(c.keptAudio, of: c.totalAudio)) kept; \(absorbed) merged into \(anchors) anchor\(anchors == 1 ? "" : "s")</div>"
        s +=
            "<div class=\"card\">video<b>\(Markup.count(c.keptVideo)) / \(Markup.count(c.totalVideo))</b>\(Markup.percent(c.keptVideo, of: c.totalVideo)) kept; \(model.framesDrawn) frame\(model.framesDrawn == 1 ? "" : "s") of \(model.frameRows) × \(model.frameColumns)</div>"
        if r.layout == .interleaved {
            let text = c.total - c.totalAudio - c.totalVideo
            s += "<div class=\"card\">text<b>\(Markup.count(text))</b>always kept</div>"
        }
        s += "</div><dl class=\"params\">"
        s +=
            "<dt>parameters</dt><dd>rho_audio \(p.rhoAudio) · rho_video \(p.rhoVideo) · contextual_ratio \(p.contextualRatio) · g \(p.g) · video_budget \(p.videoBudget.rawValue)</dd>"
        var layout =
            "\(r.layout.rawValue) · \(r.chunks.videoRunLengths.count) video run\(r.chunks.videoRunLengths.count == 1 ? "" : "s"), \(r.chunks.audioRunLengths.count) audio, \(r.chunks.guidedRunCount) guided"
        if let g = r.videoGrid { layout += " · video_grid_thw [\(g.t), \(g.h), \(g.w)], P = \(r.chunks.tokensPerFrame)" }
        if r.dimension > 0 { layout += " · D = \(r.dimension), \(r.embeddingType.rawValue)" }
        s += "<dt>layout</dt><dd>\(layout)</dd>"
        s +=
            "<dt>counts</dt><dd>total \(c.total) · kept \(c.kept) · total_audio \(c.totalAudio) · kept_audio \(c.keptAudio) · total_video \(c.totalVideo) · kept_video \(c.keptVideo) · merged \(c.merged)</dd>"
        s += "</dl></section>"
        return s
    }

    private func clip() -> String {
        var s = "<section id=\"clip\"><h2>The clip, chunk by chunk</h2>"
        s +=
            "<p class=\"mute\">Each chunk's audio retention sets its video budget: the more of a chunk's audio is kept, the more of its video is kept. Stage 2 then renormalises the guided chunks to the global budget: the tick is where the chunk's audio alone would put it, the bar where it ended.</p>"
        s +=
            "<div class=\"legend\"><span><i style=\"background:var(--dom)\"></i>audio kept (retention)</span><span><i style=\"background:var(--even)\"></i>video kept fraction, 1 − ratio</span><span><i style=\"background:var(--ink);height:3px;vertical-align:3px\"></i>before renormalisation</span><span><i style=\"border-top:1px dashed var(--ink);height:0;vertical-align:4px\"></i>1 − rho_video</span></div>"
        s += "<div class=\"scroll\">\(ClipStrip.svg(model))</div>"
        s += "</section>"
        return s
    }

    /// The exact numbers behind the pictures, one row per chunk.
    private func numbers() -> String {
        var s = "<section id=\"numbers\"><h2>Every chunk in numbers</h2>"
        s +=
            "<details\(model.chunks.count <= ExplainDetail.compactAbove ? " open" : "")><summary>\(model.chunks.count) chunk\(model.chunks.count == 1 ? "" : "s"): retention, ratios, kept counts</summary><div class=\"scroll\"><table>"
        s +=
            "<tr><th>chunk</th><th>audio kept</th><th>retention</th><th>ratio from audio</th><th>renormalisation</th><th>video ratio</th><th>video kept</th><th>per frame</th></tr>"
        for chunk in model.chunks {
            s += "<tr><td>\(chunk.index)\(chunk.guided ? "" : "*")</td>"
            s += "<td>\(chunk.audio.map { "\(chunk.audioKept)/\($0.count)" } ?? "-")</td>"
            s += "<td>\(chunk.retention.map(Markup.ratio) ?? "-")</td>"
            s += "<td>\(chunk.baseRatio.map(Markup.ratio) ?? "-")</td>"
            if let base = chunk.baseRatio, let ratio = chunk.ratio { s += "<td>\(Markup.delta(ratio - base))</td>" } else { s += "<td>-</td>" }
            s += "<td>\(chunk.ratio.map { chunk.keptWhole ? "kept whole" : Markup.ratio($0) } ?? "-")</td>"
            s += "<td>\(chunk.video.map { "\(chunk.videoKept)/\($0.count)" } ?? "-")</td>"
            s += "<td>\(chunk.frames.map { String($0.kept) }.joined(separator: " "))</td></tr>"
        }
        s += "</table></div>"
        if model.chunks.contains(where: { !$0.guided }) {
            s += "<p class=\"mute\">* unguided: no paired run of the other modality; its video ratio is rho_video.</p>"
        }
        s += "</details></section>"
        return s
    }

    private func frames() -> String {
        var s = "<section id=\"frames\"><h2>Video frames</h2>"
        guard model.counts.totalVideo > 0 else { return s + "<p class=\"mute\">No video tokens.</p></section>" }
        let p = model.request.chunks.tokensPerFrame
        s +=
            "<p class=\"mute\">Each frame is its grid of \(model.frameRows) × \(model.frameColumns) patches (one token each after the 2×2 merge). Filled patches were kept, empty ones dropped. Even frames keep the patches DPC-kNN scores as most distinctive; odd frames keep those that changed most since the frame before.</p>"
        s +=
            "<div class=\"legend\"><span><i style=\"background:var(--even)\"></i>kept, even frame (DPC-kNN)</span><span><i style=\"background:var(--odd)\"></i>kept, odd frame (temporal)</span><span><i style=\"background:var(--drop);border:1px solid var(--line)\"></i>dropped</span></div>"
        let withVideo = model.chunks.filter { $0.video != nil }
        let inFull = detail.chunksInFull(of: withVideo.count)
        let cols = Double(model.frameColumns), rows = Double(model.frameRows)
        let cell = min(14, max(5, min(560 / cols, 220 / rows)))
        s += "<div class=\"chunks\">"
        for chunk in withVideo.prefix(inFull) {
            s += "<div class=\"chunk\" id=\"chunk-\(chunk.index)\" title=\"\(Markup.escape(ClipStrip.title(model, chunk)))\">"
            s += "<h3>Chunk \(chunk.index)\(headline(chunk))</h3><div class=\"frames\">"
            for frame in chunk.frames {
                s +=
                    "<figure>\(FrameGrid.svg(model, frame: frame, cell: cell, lines: cell >= 6))<figcaption>\(FrameGrid.caption(frame, p: p))</figcaption></figure>"
            }
            s += loose(chunk, cell: cell, captions: true)
            s += "</div></div>"
        }
        s += "</div>"
        if withVideo.count > inFull {
            let small = min(4, max(2, min(110 / cols, 60 / rows)))
            s +=
                "<h3>Chunks \(withVideo[inFull].index)–\(withVideo.last!.index) <span>as thumbnails: every patch still drawn; hover for the numbers</span></h3><div class=\"thumbs\">"
            for chunk in withVideo.dropFirst(inFull) {
                s +=
                    "<div class=\"thumb\" id=\"chunk-\(chunk.index)\" title=\"\(Markup.escape(ClipStrip.title(model, chunk)))\"><div class=\"frames\">"
                for frame in chunk.frames { s += FrameGrid.svg(model, frame: frame, cell: small, lines: false) }
                s += loose(chunk, cell: small, captions: false)
                s += "</div><figcaption>\(chunk.index) · \(chunk.videoKept)/\(chunk.video!.count)</figcaption></div>"
            }
            s += "</div>"
        }
        return s + "</section>"
    }

    /// A chunk's numbers in two short lines: kept counts, then how its video ratio came about.
    private func headline(_ chunk: ReportModel.Chunk) -> String {
        var counts: [String] = []
        if let audio = chunk.audio { counts.append("audio \(chunk.audioKept)/\(audio.count)") }
        if let video = chunk.video { counts.append("video \(chunk.videoKept)/\(video.count)") }
        var ratioLine = ""
        if chunk.keptWhole {
            ratioLine = "video shorter than a frame: kept whole"
        } else if let ratio = chunk.ratio {
            if let base = chunk.baseRatio {
                let change = Markup.delta(ratio - base)
                ratioLine =
                    change == "0"
                    ? "ratio \(Markup.ratio(ratio)), from its audio alone"
                    : "ratio \(Markup.ratio(ratio)): \(Markup.ratio(base)) from audio \(change) renorm."
            } else {
                ratioLine = "ratio \(Markup.ratio(ratio)) (rho_video, unguided)"
            }
        }
        return "<span>\(counts.joined(separator: " · "))</span><span>\(ratioLine)</span>"
    }

    /// A run's video tokens outside whole frames.
    private func loose(_ chunk: ReportModel.Chunk, cell: Double, captions: Bool) -> String {
        var s = ""
        if chunk.keptWhole, let video = chunk.video {
            s += "<figure>\(FrameGrid.loose(model, video, cell: cell))"
            if captions { s += "<figcaption>\(video.count) tokens, shorter than one frame: kept whole</figcaption>" }
            s += "</figure>"
        }
        if let leftover = chunk.leftover {
            s += "<figure>\(FrameGrid.loose(model, leftover, cell: cell))"
            if captions { s += "<figcaption>\(leftover.count) tokens past the last whole frame: dropped</figcaption>" }
            s += "</figure>"
        }
        return s
    }

    private func audio() -> String {
        var s = "<section id=\"audio\"><h2>Audio tokens</h2>"
        s +=
            "<p class=\"mute\">Stage 1 keeps the audio tokens with the highest importance scores, then a few evenly spaced contextual anchors; each anchor absorbs up to g of the remaining tokens most similar to it (those closest to the video first), which are then dropped.</p>"
        s +=
            "<div class=\"legend\"><span><i style=\"background:var(--dom)\"></i>kept by score</span><span><i style=\"background:var(--anc)\"></i>anchor (kept)</span><span><i style=\"background:var(--mrg)\"></i>merged into the linked anchor, dropped</span><span><i style=\"background:var(--drop);border:1px solid var(--line)\"></i>dropped</span></div>"
        s += "<div class=\"scroll\">\(AudioStrip.svg(model))</div></section>"
        return s
    }
}
