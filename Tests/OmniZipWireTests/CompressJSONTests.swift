import Foundation
import OmniZipCore
import OmniZipTestSupport
import Testing
@testable import OmniZipWire

@Suite("Compress JSON answers")
struct CompressJSONTests {
    @Test("base64 agrees with Foundation's for every length and remainder")
    func base64() {
        var random = SeededRandom(3)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString(), "length \(length)")
        }
    }

    @Test("the JSON answer carries the same indices and counts as the safetensors answer")
    func sameAsSafetensors() throws {
        let body = RequestBuilder().bytes()
        let (json, tensors) = try body.withUnsafeBytes { raw in
            let decoded = try RequestDecoder.decode(raw, requireEmbeddings: true)
            let result = try Compressor(workers: 1).compress(try decoded.compressionInput())
            return (
                CompressJSON.json(decoded, result, includeEmbeddings: false),
                ResponseEncoder.compress(decoded, result, includeEmbeddings: false).serialized()
            )
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        try tensors.withUnsafeBytes { raw in
            let file = try SafetensorsFile(parsing: raw)
            #expect((object["kept_index"] as? [Int])?.map(Int64.init) == (try file.int64Values(file.tensor("kept_index")!, in: raw)))
            #expect((object["merged_index"] as? [Int])?.map(Int64.init) == (try file.int64Values(file.tensor("merged_index")!, in: raw)))
            #expect(object["kept"] as? Int == Int(file.metadata["kept"]!))
        }
        #expect(object["layout"] as? String == "interleaved")
        #expect((object["audio_chunk_kept"] as? [Int])?.count == 2)
        #expect(object["merged_embeds"] == nil)
        // One member per line: readable in a terminal.
        #expect(String(decoding: json, as: UTF8.self).split(separator: "\n").count == object.count + 2)
    }
}
