import Foundation
import OmniZipCore
import OmniZipWire
import Testing
@testable import OmniZipExplain

/// The split layout (modalities sent apart) through the JSON answer and the report.
@Suite("Split layout: JSON answer and report")
struct SplitLayoutTests {
    /// audio 3 + 3 tokens, video 2 runs of 2 frames of P = 2 (grid [4, 2, 4]), D = 4.
    static func request() -> [UInt8] {
        var w = SafetensorsWriter(metadata: ["rho_audio": "0.5", "contextual_ratio": "0.34", "g": "2"])
        w.add("audio_embeds", dtype: .f32, shape: [6, 4], elements: (0..<24).map { Float(($0 * 5) % 7) - 3 })
        w.add("video_embeds", dtype: .f32, shape: [8, 4], elements: (0..<32).map { Float(($0 * 3) % 11) - 5 })
        w.add("audio_scores", dtype: .f32, shape: [6], elements: [Float(0.1), 0.9, 0.3, 0.8, 0.2, 0.4])
        w.add("video_grid_thw", dtype: .i64, shape: [3], elements: [Int64(4), 2, 4])
        w.add("audio_chunk_lens", dtype: .i64, shape: [2], elements: [Int64(3), 3])
        w.add("video_chunk_lens", dtype: .i64, shape: [2], elements: [Int64(4), 4])
        return w.serialized()
    }

    @Test func jsonAndReportAgreeWithTheResult() throws {
        let body = Self.request()
        try body.withUnsafeBytes { raw in
            let decoded = try RequestDecoder.decode(raw, requireEmbeddings: true)
            #expect(decoded.layout == .split)
            let result = try Compressor(workers: 1).compress(try decoded.compressionInput())
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(CompressJSON.json(decoded, result, includeEmbeddings: true))) as? [String: Any])
            #expect(object["kept_index"] == nil)
            #expect(object["audio_kept_index"] as? [Int] == result.audioKeep.indices.filter { result.audioKeep[$0] })
            #expect(object["video_kept_index"] as? [Int] == result.videoKeep.indices.filter { result.videoKeep[$0] })
            #expect(object["merged_index"] as? [Int] == result.mergedAnchors)
            #expect(object["compressed_audio_embeds"] != nil && object["compressed_video_embeds"] != nil)

            let page = Page(html: ExplainReport(request: decoded, result: result, source: "split").html())
            #expect(page.rects(inGroupsOf: "kv") == result.videoKeep.filter { $0 }.count)
            #expect(page.rects(inGroupsOf: "ka") == result.audioKeep.filter { $0 }.count)
            #expect(page.html.contains("viewBox=\"0 0 2 1\"")) // frames of 1 x 2 patches
            #expect(!page.html.contains("<div class=\"card\">text")) // no text tokens in a split request
        }
    }
}
