import Foundation
@testable import OmniZipCore
import OmniZipSynthetic
import OmniZipTestSupport
import OmniZipWire
import Testing
@testable import OmniZipExplain

/// The compression trace behind the explain page's values: what stage 3 and the merge ranked by,
/// equal to a direct recomputation from the request, the same at any worker count, and drawn
/// as one titled element per token.
@Suite("Compression trace and the page's values")
struct TraceTests {
    /// The small cases (the committed fixtures): no audio, no video, ties, BF16 and the rest.
    static let cases = Golden.cases.filter { Golden.size($0) < 200_000 }

    struct Traced {
        let decoded: DecodedRequest
        let result: CompressionResult
        let trace: CompressionTrace
    }

    static func traced<T>(_ body: [UInt8], workers: Int = 2, _ use: (Traced) throws -> T) throws -> T {
        try body.withUnsafeBytes { raw in
            let decoded = try RequestDecoder.decode(raw, requireEmbeddings: true)
            let trace = CompressionTrace()
            let result = try Compressor(workers: workers).compress(try decoded.compressionInput(), trace: trace)
            return try use(Traced(decoded: decoded, result: result, trace: trace))
        }
    }

    /// Rows widened to float32 (exactly, as the core widens them).
    static func rows(_ rows: TokenRows) -> [[Float]] {
        (0..<rows.count).map { r in
            var out = [Float](repeating: 0, count: rows.dimension)
            out.withUnsafeMutableBufferPointer { _ = rows.widen(r, into: $0.baseAddress!) }
            return out
        }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    static func norm(_ a: [Float]) -> Double { dot(a, a).squareRoot() }

    /// The spec's DPC-kNN score of each of a frame's rows, in double, or nil for a row whose
    /// density another (different) row matches to within rounding: which of the two is denser,
    /// and so its score, then hangs on the last bits of float32 arithmetic (`public-ties`).
    static func densityPeaks(_ frame: [[Float]]) -> [Double?] {
        let p = frame.count
        let unit = frame.map { row in row.map { Double($0) / max(norm(row), 1e-12) } }
        var dist = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        for a in 0..<p {
            for b in 0..<p { dist[a][b] = a == b ? .infinity : 1 - zip(unit[a], unit[b]).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        let k = min(5, p - 1)
        let rho = (0..<p).map { a in k == 0 ? 1.0 : exp(-(dist[a].sorted().prefix(k).reduce(0, +) / Double(k))) }
        return (0..<p).map { a in
            if (0..<p).contains(where: { frame[$0] != frame[a] && abs(rho[$0] - rho[a]) <= 1e-5 * rho[a] }) { return nil }
            let denser = (0..<p).filter { rho[$0] > rho[a] }.map { dist[a][$0] }
            let delta = denser.min() ?? (0..<p).map { $0 == a ? 0 : dist[a][$0] }.max()!
            return rho[a] * delta
        }
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 2e-4) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

    @Test("the trace equals a direct recomputation from the request", arguments: cases)
    func recomputation(name: String) throws {
        try Self.traced(try Golden.request(name)) { t in
            let layout = t.decoded.chunks, plan = t.result.plan, p = layout.tokensPerFrame
            let video = Self.rows(t.decoded.video!), audio = Self.rows(t.decoded.audio!)
            #expect(t.trace.videoValues.count == video.count)
            // Stage 3: per whole frame, DPC-kNN (even) or the cosine to the frame before (odd);
            // NaN outside whole frames and in runs kept whole.
            var start = 0, mismatches: [String] = [], compared = 0, ambiguous = 0
            for (run, length) in layout.videoRunLengths.enumerated() {
                let frames = plan.videoFrameKept[run]?.count ?? 0
                for f in 0..<frames {
                    let first = start + f * p
                    let frame = Array(video[first..<(first + p)])
                    let expected: [Double?] =
                        f % 2 == 0
                        ? Self.densityPeaks(frame)
                        : (0..<p).map { r in
                            let before = video[first - p + r], now = frame[r]
                            return Self.dot(now, before) / max(Self.norm(now) * Self.norm(before), 1e-8)
                        }
                    for r in 0..<p {
                        guard let value = expected[r] else {
                            ambiguous += 1
                            continue
                        }
                        compared += 1
                        if Self.close(Double(t.trace.videoValues[first + r]), value) { continue }
                        mismatches.append("run \(run) frame \(f) token \(r): trace \(t.trace.videoValues[first + r]), recomputed \(value)")
                    }
                }
                for i in (start + frames * p)..<(start + length) where !t.trace.videoValues[i].isNaN {
                    mismatches.append("token \(i) outside whole frames has a value")
                }
                start += length
            }
            #expect(mismatches.isEmpty, "\(name): \(mismatches.count) values differ: \(mismatches.prefix(5))")
            #expect(video.isEmpty || compared > ambiguous, "\(name): \(compared) values compared, \(ambiguous) left out as near-ties")

            // The merge: pooled tokens, their anchors, cross-modal scores and softmax weights.
            let pool = plan.audio.pool, anchors = plan.audio.anchors
            #expect(t.trace.pool == pool)
            let unitAudio = audio.map { row in row.map { Double($0) / (Self.norm(row) + 1e-6) } }
            let unitVideo = video.map { row in row.map { Double($0) / (Self.norm(row) + 1e-6) } }
            func cosine(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
            for (slot, i) in pool.enumerated() {
                let similarities = anchors.map { cosine(unitAudio[i], unitAudio[$0]) }
                let best = similarities.max()!
                #expect(Self.close(Double(t.trace.anchorSimilarity[slot]), best), "\(name): anchor similarity of \(i)")
                let assigned = try #require(anchors.firstIndex(of: t.trace.assignedAnchor[slot]))
                #expect(Self.close(similarities[assigned], best), "\(name): \(i) assigned to a less similar anchor")
                let x = video.isEmpty ? similarities[assigned] : unitVideo.map { cosine(unitAudio[i], $0) }.max()!
                #expect(Self.close(Double(t.trace.crossModal[slot]), x, 1e-3), "\(name): cross-modal score of \(i)")
            }
            #expect(t.trace.mergeWeights.count == t.result.mergedAnchors.count)
            for (sources, weights) in zip(t.result.mergedSources, t.trace.mergeWeights) {
                let x = sources.map { Double(t.trace.crossModal[pool.firstIndex(of: $0)!]) }
                let peak = x.max()!, exps = x.map { exp($0 - peak) }, total = exps.reduce(0, +)
                #expect(weights.count == sources.count)
                for (w, e) in zip(weights, exps) { #expect(abs(Double(w) - e / total) < 1e-5) }
                #expect(abs(weights.reduce(0, +) - 1) < 1e-5)
            }
        }
    }

    @Test(
        "the trace and the result are the same at any worker count, and tracing changes no result",
        arguments: cases.filter { $0.contains("bf16") || $0.contains("ties") || $0.contains("no-") || $0.hasPrefix("public-02") })
    func workerCounts(name: String) throws {
        let body = try Golden.request(name)
        let one = try Self.traced(body, workers: 1) { $0 }
        let untraced = try body.withUnsafeBytes { raw in
            try Compressor(workers: 3).compress(try RequestDecoder.decode(raw, requireEmbeddings: true).compressionInput())
        }
        #expect(one.result.videoKeep == untraced.videoKeep && one.result.mergedEmbeddings == untraced.mergedEmbeddings)
        #expect(one.result.mergedSources == untraced.mergedSources && one.result.plan == untraced.plan)
        for workers in [2, 4] {
            let other = try Self.traced(body, workers: workers) { $0 }
            // Bit for bit (NaN included): compare the bit patterns.
            #expect(one.trace.videoValues.map(\.bitPattern) == other.trace.videoValues.map(\.bitPattern), "\(name) at \(workers) workers")
            #expect(one.trace.crossModal == other.trace.crossModal && one.trace.assignedAnchor == other.trace.assignedAnchor)
            #expect(one.trace.anchorSimilarity == other.trace.anchorSimilarity && one.trace.mergeWeights == other.trace.mergeWeights)
            #expect(one.result.videoKeep == other.result.videoKeep)
        }
    }

    @Test("tracing scores the frames that keep all or none too, without changing the result: rho_video 0 and 1, P = 1, D = 1")
    func edgeCases() throws {
        let clips = [
            SyntheticClip(chunks: 3, tokensPerFrame: 6, dimension: 4, audioPerChunk: 10, seed: 3),
            SyntheticClip(chunks: 3, tokensPerFrame: 1, dimension: 4, audioPerChunk: 10, seed: 3),
            SyntheticClip(chunks: 3, tokensPerFrame: 5, dimension: 1, audioPerChunk: 10, seed: 3),
        ]
        for clip in clips {
            for rho in ["0", "1", "0.6"] {
                let body = clip.requestBody(elementType: .float32)
                try body.withUnsafeBytes { raw in
                    let decoded = try RequestDecoder.decode(raw, overrides: ["rho_video": rho], requireEmbeddings: true)
                    let trace = CompressionTrace()
                    let traced = try Compressor(workers: 2).compress(try decoded.compressionInput(), trace: trace)
                    let plain = try Compressor(workers: 2).compress(try decoded.compressionInput())
                    #expect(traced.videoKeep == plain.videoKeep && traced.mergedEmbeddings == plain.mergedEmbeddings)
                    #expect(trace.videoValues.count == plain.videoKeep.count)
                    if clip.tokensPerFrame > 1 { #expect(!trace.videoValues.contains { $0.isNaN }) }
                    let html = ExplainReport(request: decoded, result: traced, trace: trace, source: "edge").html()
                    #expect(Self.titles(html, "video token ") == plain.videoKeep.count)
                }
            }
        }
    }

    /// `"<title>PREFIX"` occurrences.
    static func titles(_ html: String, _ prefix: String) -> Int { html.components(separatedBy: "<title>\(prefix)").count - 1 }

    @Test("the page holds one titled bar per audio token and one titled heat cell per token of each frame drawn in full", arguments: cases)
    func titledElements(name: String) throws {
        try Self.traced(try Golden.request(name)) { t in
            let html = ExplainReport(request: t.decoded, result: t.result, trace: t.trace, detail: .full, source: name).html()
            let p = t.decoded.chunks.tokensPerFrame
            let frames = t.result.plan.videoFrameKept.reduce(0) { $0 + ($1?.count ?? 0) }
            #expect(Self.titles(html, "audio token ") == t.decoded.scores.count)
            #expect(Self.titles(html, "video token ") == frames * p)
            #expect(html.components(separatedBy: " data-v=\"").count - 1 == frames * p)
            #expect(html.components(separatedBy: " data-s=\"").count - 1 == t.decoded.scores.count)
            // Each heat cell's exact value is the trace's.
            let values = html.components(separatedBy: " data-v=\"").dropFirst().map { Float(String($0.prefix { $0 != "\"" }))! }
            let drawn = t.trace.videoValues.filter { !$0.isNaN }
            #expect(values.map(\.bitPattern) == drawn.map(\.bitPattern))
            let scores = html.components(separatedBy: " data-s=\"").dropFirst().map { Float(String($0.prefix { $0 != "\"" }))! }
            #expect(scores == t.decoded.scores)
            // Kept cells still one rect per kept token.
            #expect(Page(html: html).rects(inGroupsOf: "kv") == t.result.videoKeep.filter { $0 }.count)
        }
    }

    @Test("long clips draw heat maps only for the chunks drawn in full; untraced pages draw none")
    func compactHeatMaps() throws {
        let clip = SyntheticClip(chunks: 20, tokensPerFrame: 12, dimension: 16, audioPerChunk: 10, seed: 5)
        try Self.traced(clip.requestBody(elementType: .float32)) { t in
            let html = ExplainReport(request: t.decoded, result: t.result, trace: t.trace, source: "clip").html()
            #expect(Self.titles(html, "video token ") == 2 * ExplainDetail.fullChunks * 12)
            #expect(Self.titles(html, "audio token ") == 200)
            #expect(html.contains("audio token 25 (prompt position") && html.contains("1.00 s"))
            let untraced = ExplainReport(request: t.decoded, result: t.result, source: "clip").html()
            #expect(Self.titles(untraced, "video token ") == 0 && !untraced.contains("class=\"hmf\""))
            #expect(Page(html: untraced).rects(inGroupsOf: "kv") == Page(html: html).rects(inGroupsOf: "kv"))
        }
    }

    @Test("times in seconds follow the model's audio token rate, and are left out when it is unknown")
    func seconds() throws {
        // Split layout: audio runs of 3 tokens; the token ids say only which model it is.
        let body = SplitLayoutTests.request()
        let cases: [([String: String], String?)] = [
            ([:], "0.12–0.24 s"), (["model": "qwen3-omni"], "0.23–0.46 s"), (["audio_token_id": "7"], nil),
        ]
        for (overrides, expected) in cases {
            try body.withUnsafeBytes { raw in
                let decoded = try RequestDecoder.decode(raw, overrides: overrides, requireEmbeddings: true)
                let result = try Compressor(workers: 1).compress(try decoded.compressionInput())
                let html = ExplainReport(request: decoded, result: result, source: "t").html()
                if let expected {
                    #expect(html.contains(expected), "\(overrides)")
                } else {
                    #expect(!html.contains("0.12–0.24 s") && html.contains("No times in seconds"))
                }
            }
        }
    }
}
