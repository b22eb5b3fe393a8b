import OmniZipCore
import OmniZipWire

/// The explain report: one self-contained HTML page (inline CSS and SVG, no scripts, nothing
/// fetched) showing what a compression kept and why. It draws only from the request and the
/// `CompressionResult` that `/v1/compress` encodes, so its counts are that answer's counts.
public struct ExplainReport {
    let model: ReportModel
    let detail: ExplainDetail
    let source: String

    /// `source` names the request in the page (a file name, or "POST /v1/explain"). With the
    /// `trace` of the compression that gave `result`, the page also shows the values each choice
    /// ranked by: heat maps of the frames drawn in full, cross-modal scores and merge weights.
    public init(
        request: DecodedRequest, result: CompressionResult, trace: CompressionTrace? = nil, detail: ExplainDetail = .auto, source: String
    ) {
        model = ReportModel(request: request, result: result, trace: trace)
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
        // Side by side on a wide screen (the frames beside the audio), one after the other else.
        s += "<div class=\"cols\">\(frames())\(audio())</div>"
        s += merges()
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
        s += "<dt>time</dt><dd>\(Markup.escape(model.timeNote))</dd>"
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
        let withVideo = model.chunks.filter { $0.video != nil }
        let inFull = detail.chunksInFull(of: withVideo.count)
        let values = model.videoValues
        if values != nil {
            s +=
                "<p class=\"mute\">Frames drawn in full are heat maps of the value behind each choice, scaled per frame from its lowest (dark) to its highest (yellow): the DPC-kNN score ρ·δ (density × distance to a denser token) in even frames, which keep their highest scores, and the change since the frame before, 1 − cosine, in odd frames, which keep their lowest cosines. Kept patches are outlined, dropped ones faded; hover a patch for its token index, value and rank.</p>"
            s +=
                "<div class=\"legend\"><span><i class=\"ramp\"></i>value in its frame, low → high</span><span><i style=\"background:var(--hot);outline:1.5px solid #111;outline-offset:-1.5px\"></i>kept</span><span><i style=\"background:var(--hot);opacity:.28\"></i>dropped</span>"
            if withVideo.count > inFull {
                s +=
                    "<span><i style=\"background:var(--even)\"></i><i style=\"background:var(--odd)\"></i>kept, in thumbnails (even / odd frame)</span>"
            }
            s += "</div>"
        } else {
            s +=
                "<div class=\"legend\"><span><i style=\"background:var(--even)\"></i>kept, even frame (DPC-kNN)</span><span><i style=\"background:var(--odd)\"></i>kept, odd frame (temporal)</span><span><i style=\"background:var(--drop);border:1px solid var(--line)\"></i>dropped</span></div>"
        }
        let cols = Double(model.frameColumns), rows = Double(model.frameRows)
        let cell = min(14, max(5, min(560 / cols, 220 / rows)))
        s += "<div class=\"chunks\">"
        for chunk in withVideo.prefix(inFull) {
            s += "<div class=\"chunk\" id=\"chunk-\(chunk.index)\" title=\"\(Markup.escape(ClipStrip.title(model, chunk)))\">"
            s += "<h3>Chunk \(chunk.index)\(headline(chunk))</h3><div class=\"frames\">"
            for frame in chunk.frames {
                let grid =
                    values.map { FrameGrid.heat(model, chunk: chunk, frame: frame, values: $0, cell: cell) }
                    ?? FrameGrid.svg(model, frame: frame, cell: cell, lines: cell >= 6)
                s += "<figure>\(grid)<figcaption>\(FrameGrid.caption(model, chunk, frame, p: p))</figcaption></figure>"
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
        if let span = model.seconds(chunk) { counts.append(Markup.span(span)) }
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
        let n = model.request.scores.count
        let cutoff =
            model.audioCutoff.map {
                "the dashed line is the cut-off, \(Markup.value($0)): the lowest score kept by score. Stage 1 keeps the dom = round((1 − rho_audio) · N) = \(model.dominantCount) highest scores of all \(n) audio tokens at once (one global selection, not per chunk; equal scores go to the lower index), so every token kept by score is at or above it and every other token at or below it"
            } ?? "no token is kept by score (dom = 0), so there is no cut-off"
        s += "<p class=\"mute\">Bars: each token's importance score (the request's audio_scores), scaled to the highest; \(cutoff).</p>"
        s +=
            "<div class=\"legend\"><span><i style=\"background:var(--dom)\"></i>kept by score</span><span><i style=\"background:var(--anc)\"></i>anchor (kept)</span><span><i style=\"background:var(--mrg)\"></i>merged into the linked anchor (one in another row: see its title), dropped</span><span><i style=\"background:var(--drop);border:1px solid var(--line)\"></i>dropped (bar: grey)</span><span><i style=\"border-top:2px dashed var(--ink);height:0;vertical-align:4px\"></i>cut-off</span></div>"
        s += "<div class=\"scroll\">\(AudioStrip.svg(model))</div>"
        if !model.result.mergedAnchors.isEmpty {
            s +=
                "<p class=\"mute\">Hover a bar for its token's numbers; each merge's cross-modal scores and weights are listed under <a href=\"#merges\">Merges</a>.</p>"
        }
        s += "</section>"
        return s
    }

    /// Each anchor's merge: its sources with their cross-modal scores and softmax weights, and
    /// the pooled tokens assigned to it that were not among its top g.
    private func merges() -> String {
        guard !model.result.mergedAnchors.isEmpty else { return "" }
        let anchors = model.result.mergedAnchors, g = model.request.options.parameters.g
        var s = "<section id=\"merges\"><h2>Merges <span class=\"mute\">\(anchors.count) anchor\(anchors.count == 1 ? "" : "s")</span></h2>"
        guard let trace = model.trace else {
            return s + "<p class=\"mute\">The merge scores were not traced for this page.</p></section>"
        }
        s +=
            "<p class=\"mute\">Each pooled token (below the cut-off, not an anchor) is assigned to its most similar anchor; an anchor absorbs the g = \(g) of its tokens with the highest cross-modal score x (the best cosine with any video token\(model.counts.totalVideo == 0 ? "; without video, the cosine with the anchor" : "")), weighted by softmax(x): anchor ← (anchor + Σ w·token) / (1 + Σ w).</p>"
        var assigned: [Int: [Int]] = [:] // anchor -> pooled audio indices
        for (slot, i) in trace.pool.enumerated() where slot < trace.assignedAnchor.count {
            assigned[trace.assignedAnchor[slot], default: []].append(i)
        }
        s +=
            "<details\(anchors.count <= 40 ? " open" : "")><summary>sources, x and weights per anchor</summary><div class=\"scroll\"><table class=\"merges\"><tr><th>anchor</th><th>time</th><th style=\"text-align:left\">merged: token (x, weight)</th><th>Σ weight</th><th>assigned, not merged</th></tr>"
        for (m, anchor) in anchors.enumerated() {
            let sources = model.result.mergedSources[m]
            let weights = m < trace.mergeWeights.count ? trace.mergeWeights[m] : []
            let parts = zip(sources, weights).map { source, w in
                let x = model.poolSlot[source].map { trace.crossModal[$0] }
                return "\(source) (\(x.map(Markup.value) ?? "-"), \(Markup.value(w)))"
            }
            var sum: Float = 0
            for w in weights { sum += w }
            let others = (assigned[anchor] ?? []).filter { !sources.contains($0) }
            let best = others.compactMap { model.poolSlot[$0].map { trace.crossModal[$0] } }.max()
            s += "<tr><td>\(anchor)</td><td>\(model.audioSeconds(anchor).map(Markup.seconds) ?? "-")</td>"
            s += "<td style=\"text-align:left\">\(parts.joined(separator: " · "))</td><td>\(Markup.value(sum))</td>"
            s += "<td>\(others.isEmpty ? "-" : "\(others.count), best x \(best.map(Markup.value) ?? "-")")</td></tr>"
        }
        s += "</table></div></details></section>"
        return s
    }
}
