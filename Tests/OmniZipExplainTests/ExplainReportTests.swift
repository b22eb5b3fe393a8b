import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import OmniZipCore
import OmniZipSynthetic
import OmniZipTestSupport
import OmniZipWire
import Testing
@testable import OmniZipExplain

/// What a test reads back from a page.
struct Page {
    let html: String

    /// Rects inside `<g class="PREFIX...">` groups (groups hold only rects or nested groups).
    func rects(inGroupsOf prefix: String) -> Int {
        var count = 0
        var rest = html[...]
        let open = "<g class=\"\(prefix)"
        while let start = rest.range(of: open) {
            // The group ends at its own "</g>"; nested groups (ka > d, a) close first.
            var depth = 0
            var cursor = start.lowerBound
            scan: while cursor < rest.endIndex {
                if rest[cursor...].hasPrefix("<g") {
                    depth += 1
                } else if rest[cursor...].hasPrefix("</g>") {
                    depth -= 1
                    if depth == 0 { break scan }
                } else if rest[cursor...].hasPrefix("<rect") {
                    count += 1
                }
                cursor = rest.index(after: cursor)
            }
            rest = rest[cursor...]
        }
        return count
    }

    func attribute(_ name: String) -> Int? {
        guard let r = html.range(of: "\(name)=\"") else { return nil }
        return Int(html[r.upperBound...].prefix { $0 != "\"" })
    }

    /// Every `<svg>...</svg>` fragment, to be parsed as XML.
    var svgs: [String] {
        var out: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            out.append(String(rest[start.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return out
    }
}

func render(_ body: [UInt8], detail: ExplainDetail = .auto, overrides: [String: String] = [:]) throws -> (Page, TokenCounts, CompressionResult) {
    try body.withUnsafeBytes { raw in
        let decoded = try RequestDecoder.decode(raw, overrides: overrides, requireEmbeddings: true)
        // Traced, as the CLI and /v1/explain draw it: heat maps, scores and merge weights.
        let trace = CompressionTrace()
        let result = try Compressor(workers: 2).compress(try decoded.compressionInput(), trace: trace)
        let html = ExplainReport(request: decoded, result: result, trace: trace, detail: detail, source: "test <case>").html()
        return (Page(html: html), TokenCounts(decoded, result.plan, merged: result.mergedAnchors.count), result)
    }
}

@Suite("Explain report")
struct ExplainReportTests {
    @Test(
        "every golden case: one filled cell per kept token, the response's counts, well-formed SVG, nothing external",
        arguments: Golden.cases)
    func goldenCase(name: String) throws {
        let (page, counts, result) = try render(try Golden.request(name))
        #expect(page.rects(inGroupsOf: "kv") == counts.keptVideo)
        #expect(page.rects(inGroupsOf: "ka") == counts.keptAudio)
        #expect(page.rects(inGroupsOf: "m") == result.mergedSources.reduce(0) { $0 + $1.count })
        for (attribute, value) in [
            ("data-kept", counts.kept), ("data-total", counts.total), ("data-kept-video", counts.keptVideo),
            ("data-kept-audio", counts.keptAudio), ("data-merged", counts.merged),
        ] {
            #expect(page.attribute(attribute) == value, "\(attribute)")
        }
        for forbidden in ["<script", "http://", "https://", " src=", "@import", "url(http"] {
            #expect(!page.html.contains(forbidden), "\(forbidden)")
        }
        for svg in page.svgs {
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "\(name): SVG does not parse: \(parser.parserError.map { "\($0)" } ?? "") \(svg.prefix(200))")
        }
        #expect(page.html.contains("test &lt;case&gt;") && !page.html.contains("test <case>"))
    }

    @Test("long clips are compact: the first chunks in full, thumbnails after, still every kept patch")
    func compactMode() throws {
        let clip = SyntheticClip(chunks: 20, tokensPerFrame: 12, dimension: 16, audioPerChunk: 10, seed: 5)
        let body = clip.requestBody(elementType: .float32)
        let (auto, counts, _) = try render(body)
        #expect(auto.html.components(separatedBy: "class=\"thumb\"").count - 1 == 20 - ExplainDetail.fullChunks)
        #expect(auto.html.components(separatedBy: "<figcaption>frame ").count - 1 == 2 * ExplainDetail.fullChunks)
        #expect(auto.rects(inGroupsOf: "kv") == counts.keptVideo)
        let (full, _, _) = try render(body, detail: .full)
        #expect(!full.html.contains("class=\"thumb\""))
        #expect(full.html.components(separatedBy: "<figcaption>frame ").count - 1 == 40)
        #expect(full.rects(inGroupsOf: "kv") == counts.keptVideo)
        #expect(ExplainDetail.auto.chunksInFull(of: 12) == 12 && ExplainDetail.auto.chunksInFull(of: 13) == ExplainDetail.fullChunks)
    }

    @Test("frames are drawn as their (H/2) x (W/2) grid, even and odd labelled", .requires(SharedData.goldenPrerequisite))
    func frameGeometry() throws {
        let name = try #require(Golden.cases.first { $0.hasPrefix("public-001") })
        let (page, _, _) = try render(try Golden.request(name))
        // public-001: video_grid_thw [20, 24, 20] -> 12 x 10 patches.
        #expect(page.html.contains("viewBox=\"0 0 10 12\""))
        #expect(page.html.contains("frame 0 · even · DPC-kNN") && page.html.contains("frame 1 · odd · temporal"))
        #expect(page.html.contains("<g class=\"kv e\">") && page.html.contains("<g class=\"kv o\">"))
    }

    @Test("the 60-second clip's page stays small")
    func pageWeight() throws {
        // The standard clip's layout (30 chunks, 2 x 120 video + 50 audio each) at a small D.
        let clip = SyntheticClip(chunks: 30, tokensPerFrame: 120, dimension: 8)
        let (page, counts, _) = try render(clip.requestBody(elementType: .float32))
        #expect(page.html.utf8.count < 2_000_000)
        #expect(page.rects(inGroupsOf: "kv") == counts.keptVideo)
    }

    @Test("the renormalisation shows as base and final ratio per guided chunk")
    func renormalisation() throws {
        let name = try #require(Golden.cases.first { $0.hasPrefix("public-031") })
        let (page, _, result) = try render(try Golden.request(name))
        #expect(result.plan.videoChunkBaseRatio.count == 4)
        // Chunk 0 of case 031: base 0.638 (retention 0.28) -> 0.638 after, chunk 2: 0.350 -> 0.688.
        #expect(page.html.contains("video ratio 0.688 (0.350 from its audio alone, +0.338 by renormalisation)"))
    }
}
