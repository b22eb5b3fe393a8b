import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// `/v1/compress` with `Accept: application/json`: the same answer as the safetensors one,
/// readable from curl.
@Suite("Compress answers in JSON")
struct CompressJSONHTTPTests {
    let client = HTTPClient()

    static func ints(_ value: Any?) -> [Int64]? { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.int64Value } }

    /// The ratios, read with JSONDecoder: JSONSerialization on Linux goes through
    /// NSDecimalNumber and loses the last bits of a double.
    struct Ratios: Decodable {
        let video_chunk_ratio: [Double]
        let audio_chunk_retention: [Double]
    }

    @Test func eachShapeAnswersTheSameIndicesInJSONAndSafetensors() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let client = client
        try await EveryGoldenCase.expectNoProblems(Golden.sample) { name in
            let request = try Golden.request(name)
            let binary = try await client.post(server.url("/v1/compress"), request, headers: ["Accept": "application/octet-stream"])
            let json = try await client.post(server.url("/v1/compress"), request, headers: ["Accept": "application/json"])
            guard binary.status == 200, json.status == 200 else { return ["HTTP \(binary.status) / \(json.status)"] }
            guard json.header("Content-Type") == "application/json", let object = json.json else {
                return ["not JSON: \(json.header("Content-Type") ?? "-")"]
            }
            let tensors = try TensorBundle(binary.bytes)
            var out: [String] = []
            for name in ["kept_index", "merged_index", "video_frame_kept"] where try Self.ints(object[name]) != tensors.ints(name) {
                out.append("\(name) differs")
            }
            let ratios = try JSONDecoder().decode(Ratios.self, from: json.body)
            if try ratios.video_chunk_ratio != tensors.doubles("video_chunk_ratio") { out.append("video_chunk_ratio differs") }
            if try ratios.audio_chunk_retention != tensors.doubles("audio_chunk_retention") { out.append("audio_chunk_retention differs") }
            for key in ["total", "kept", "total_audio", "kept_audio", "total_video", "kept_video", "merged"]
            where (object[key] as? Int).map(String.init) != tensors.metadata[key] {
                out.append("\(key): \(object[key] ?? "-") vs \(tensors.metadata[key] ?? "-")")
            }
            // The per-run counts add up to the totals.
            if Self.ints(object["video_chunk_kept"])?.reduce(0, +) != Int64(tensors.metadata["kept_video"] ?? "") { out.append("video_chunk_kept") }
            if Self.ints(object["audio_chunk_kept"])?.reduce(0, +) != Int64(tensors.metadata["kept_audio"] ?? "") { out.append("audio_chunk_kept") }
            let parameters = object["parameters"] as? [String: Any]
            if (parameters?["g"] as? Int).map(String.init) != tensors.metadata["g"] { out.append("parameters: \(parameters ?? [:])") }
            if object["merged_embeds"] != nil || object["compressed_embeds"] != nil { out.append("embeddings without return=embeds") }
            return out
        }
    }

    @Test(
        "Accept: the first of JSON or safetensors named wins; safetensors by default",
        arguments: [
            (nil, "application/octet-stream"),
            ("application/json", "application/json"),
            ("application/json; charset=utf-8", "application/json"),
            ("text/html, application/json;q=0.9, application/octet-stream", "application/json"),
            ("application/x-safetensors, application/json", "application/octet-stream"),
            ("text/html", "application/octet-stream"),
            ("*/*", "application/octet-stream"),
        ] as [(String?, String)])
    func negotiation(accept: String?, answer: String) async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let body = try Golden.smallest()
        let reply = try await client.post(server.url("/v1/compress"), body, headers: accept.map { ["Accept": $0] } ?? [:])
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == answer)
        if answer == "application/json" {
            #expect(reply.json?["kept_index"] != nil)
            #expect(reply.header("Server-Timing")?.contains("core_video;dur=") == true)
            // Timings stay out of the body: the same request gives the same bytes.
            let again = try await client.post(server.url("/v1/compress"), body, headers: accept.map { ["Accept": $0] } ?? [:])
            #expect(again.body == reply.body)
        } else {
            #expect(try TensorBundle(reply.bytes).names.contains("kept_index"))
        }
    }

    @Test func returnEmbedsGivesTheSafetensorsBytesInBase64() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        for name in [Golden.cases.first { $0.contains("bf16") }, Golden.cases.first { !$0.contains("bf16") }].compactMap({ $0 }) {
            let request = try Golden.request(name)
            let binary = try TensorBundle(try await client.post(server.url("/v1/compress?return=embeds"), request).bytes)
            let object = try #require(
                try await client.post(
                    server.url("/v1/compress?return=embeds"), request,
                    headers: ["Accept": "application/json"]
                ).json)
            for tensor in ["merged_embeds", "compressed_embeds"] {
                let entry = try #require(object[tensor] as? [String: Any], "\(name): \(tensor) missing")
                let text = try #require(entry["data_base64_le"] as? String)
                let data = try #require(Data(base64Encoded: text))
                #expect([UInt8](data) == (try binary.raw(tensor)), "\(name): \(tensor) bytes differ")
                #expect(entry["dtype"] as? String == binary.dtype(tensor)?.rawValue)
                #expect((entry["shape"] as? [Int]) == binary.file.tensor(tensor)?.shape)
            }
        }
    }

    @Test func errorsStayJSONErrors() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let body = try Golden.smallest()
        let json = ["Accept": "application/json"]
        expectError(try await client.post(server.url("/v1/compress?rho_audio=2"), body, headers: json), status: 400, code: "invalid_parameter")
        expectError(
            try await client.post(server.url("/v1/compress"), Array("not safetensors".utf8), headers: json),
            status: 400, code: "invalid_safetensors")
        expectError(
            try await client.post(server.url("/v1/compress?return=everything"), body, headers: json),
            status: 400, code: "invalid_parameter")
    }

    @Test("curl's default Content-Type is taken as no type on safetensors endpoints, not on /v1/budget")
    func curlDefaultContentType() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let body = try Golden.smallest()
        let form = "application/x-www-form-urlencoded"
        let reply = try await client.post(server.url("/v1/compress"), body, contentType: form, headers: ["Accept": "application/json"])
        #expect(reply.status == 200 && reply.json?["kept_index"] != nil)
        #expect(try await client.post(server.url("/v1/score"), body, contentType: form).json?["kept"] != nil)
        expectError(try await client.post(server.url("/v1/compress"), body, contentType: "text/plain"), status: 415, code: "unsupported_media_type")
        expectError(try await client.post(server.url("/v1/budget"), Array("{}".utf8), contentType: form), status: 415, code: "unsupported_media_type")
    }
}
