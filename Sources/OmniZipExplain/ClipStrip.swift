/// The clip as a row of chunks: per chunk, the audio kept (its retention), and the video kept
/// fraction 1 − ratio with a tick where this chunk's audio alone would have put it, so the
/// renormalisation to the global budget shows as the gap between tick and bar.
enum ClipStrip {
    static func svg(_ model: ReportModel) -> String {
        let n = max(1, model.chunks.count)
        let left = 86.0
        let column = min(120, max(8, 1240 / Double(n)))
        let bar = column * 0.7
        let height = 64.0
        let audioTop = 8.0, videoTop = audioTop + height + (column >= 44 ? 30 : 14)
        let bottom = videoTop + height + (column >= 44 ? 30 : 14)
        let width = left + column * Double(n) + 8
        let rhoVideo = model.request.options.parameters.rhoVideo
        // Its natural width fills a 1,400 px page; narrower windows scale it down (ReportStyle).
        var s =
            "<svg width=\"\(Markup.n(width))\" height=\"\(Markup.n(bottom + 16))\" viewBox=\"0 0 \(Markup.n(width)) \(Markup.n(bottom + 16))\">"
        s += "<text class=\"lbl k\" x=\"0\" y=\"\(Markup.n(audioTop + 12))\">audio kept</text>"
        s += "<text class=\"lbl\" x=\"0\" y=\"\(Markup.n(audioTop + 26))\">(retention)</text>"
        s += "<text class=\"lbl k\" x=\"0\" y=\"\(Markup.n(videoTop + 12))\">video kept</text>"
        s += "<text class=\"lbl\" x=\"0\" y=\"\(Markup.n(videoTop + 26))\">(1 − ratio)</text>"
        for top in [audioTop, videoTop] {
            s +=
                "<line class=\"axis\" x1=\"\(Markup.n(left))\" x2=\"\(Markup.n(width - 8))\" y1=\"\(Markup.n(top + height))\" y2=\"\(Markup.n(top + height))\"/>"
        }
        let target = videoTop + height * rhoVideo
        s += "<line class=\"target\" x1=\"\(Markup.n(left))\" x2=\"\(Markup.n(width - 8))\" y1=\"\(Markup.n(target))\" y2=\"\(Markup.n(target))\"/>"
        let labelEvery = column >= 22 ? 1 : Int((22 / column).rounded(.up))
        for chunk in model.chunks {
            let x = left + column * Double(chunk.index) + (column - bar) / 2
            s += "<g><title>\(Markup.escape(title(model, chunk)))</title>"
            if let audio = chunk.audio {
                let fraction = chunk.retention ?? Double(chunk.audioKept) / Double(max(1, audio.count))
                let h = height * fraction
                s +=
                    "<rect class=\"bar-a\" x=\"\(Markup.n(x))\" y=\"\(Markup.n(audioTop + height - h))\" width=\"\(Markup.n(bar))\" height=\"\(Markup.n(h))\"/>"
                if column >= 44 {
                    s +=
                        "<text class=\"lbl\" x=\"\(Markup.n(x + bar / 2))\" y=\"\(Markup.n(audioTop + height + 14))\" text-anchor=\"middle\">\(chunk.audioKept)/\(audio.count)</text>"
                }
            }
            if let video = chunk.video, let ratio = chunk.ratio {
                let h = height * (chunk.keptWhole ? 1 : 1 - ratio)
                s +=
                    "<rect class=\"bar-v\" x=\"\(Markup.n(x))\" y=\"\(Markup.n(videoTop + height - h))\" width=\"\(Markup.n(bar))\" height=\"\(Markup.n(h))\"/>"
                if let base = chunk.baseRatio {
                    let y = videoTop + height * base
                    s +=
                        "<line class=\"base\" x1=\"\(Markup.n(x - 2))\" x2=\"\(Markup.n(x + bar + 2))\" y1=\"\(Markup.n(y))\" y2=\"\(Markup.n(y))\"/>"
                }
                if column >= 44 {
                    s +=
                        "<text class=\"lbl\" x=\"\(Markup.n(x + bar / 2))\" y=\"\(Markup.n(videoTop + height + 14))\" text-anchor=\"middle\">\(chunk.videoKept)/\(video.count)</text>"
                }
            }
            if chunk.index % labelEvery == 0 {
                s +=
                    "<text class=\"lbl k\" x=\"\(Markup.n(x + bar / 2))\" y=\"\(Markup.n(bottom + 12))\" text-anchor=\"middle\">\(chunk.index)</text>"
            }
            s += "</g>"
        }
        s += "</svg>"
        return s
    }

    /// The hover text of a chunk: every number of its column.
    static func title(_ model: ReportModel, _ chunk: ReportModel.Chunk) -> String {
        var parts = ["chunk \(chunk.index)\(chunk.guided ? "" : " (unguided)")"]
        if let audio = chunk.audio { parts.append("audio \(chunk.audioKept)/\(audio.count) kept") }
        if let retention = chunk.retention { parts.append("retention \(Markup.ratio(retention))") }
        if let ratio = chunk.ratio {
            if chunk.keptWhole {
                parts.append("video run shorter than one frame: kept whole")
            } else if let base = chunk.baseRatio {
                parts.append(
                    "video ratio \(Markup.ratio(ratio)) (\(Markup.ratio(base)) from its audio alone, \(Markup.delta(ratio - base)) by renormalisation)"
                )
            } else {
                parts.append("video ratio \(Markup.ratio(ratio)) (rho_video)")
            }
        }
        if let video = chunk.video { parts.append("video \(chunk.videoKept)/\(video.count) kept") }
        return parts.joined(separator: ", ")
    }
}
