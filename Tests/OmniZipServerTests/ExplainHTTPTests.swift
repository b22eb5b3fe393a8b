import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// `POST /v1/explain`: the compress request in, the report page out, counts equal to compress's.
@Suite("Explain over HTTP")
struct ExplainHTTPTests {
    let client = HTTPClient()

    /// Kept video cells: rects inside `<g class="kv ...">` groups (which hold nothing else).
    static func keptVideoCells(_ html: String) -> Int {
        html.components(separatedBy: "<g class=\"kv").dropFirst().reduce(0) { total, part in
            let group = part.components(separatedBy: "</g>")[0]
            return total + group.components(separatedBy: "<rect").count - 1
        }
    }

    static func attribute(_ name: String, _ html: String) -> String? {
        guard let r = html.range(of: " \(name)=\"") else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func eachShapeDrawsTheCompressCounts() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let client = client
        try await EveryGoldenCase.expectNoProblems(Golden.sample) { name in
            let request = try Golden.request(name)
            let page = try await client.post(server.url("/v1/explain"), request)
            let compress = try TensorBundle(try await client.post(server.url("/v1/compress"), request).bytes)
            guard page.status == 200 else { return ["HTTP \(page.status)"] }
            var out: [String] = []
            if page.header("Content-Type") != "text/html; charset=utf-8" { out.append("type \(page.header("Content-Type") ?? "-")") }
            let html = String(decoding: page.body, as: UTF8.self)
            if String(Self.keptVideoCells(html)) != compress.metadata["kept_video"] {
                out.append("kept cells \(Self.keptVideoCells(html)) vs kept_video \(compress.metadata["kept_video"] ?? "-")")
            }
            for key in ["kept", "total", "kept_audio", "kept_video", "merged"]
            where Self.attribute("data-" + key.replacingOccurrences(of: "_", with: "-"), html) != compress.metadata[key] {
                out.append("\(key) differs")
            }
            return out
        }
    }

    @Test func parametersDetailAndErrors() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let body = try Golden.smallest()
        // Query parameters override __metadata__ as for compress; Accept does not change the answer.
        let page = try await client.post(server.url("/v1/explain?rho_audio=0&detail=compact"), body, headers: ["Accept": "application/json"])
        #expect(page.status == 200 && page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(String(decoding: page.body, as: UTF8.self).contains("rho_audio 0.0"))
        #expect(page.header("Server-Timing")?.contains("render;dur=") == true)
        // The same request gives the same page, byte for byte (timings only in Server-Timing).
        let again = try await client.post(server.url("/v1/explain?rho_audio=0&detail=compact"), body)
        #expect(again.body == page.body)
        expectError(try await client.post(server.url("/v1/explain?detail=everything"), body), status: 400, code: "invalid_parameter")
        expectError(try await client.post(server.url("/v1/explain?return=embeds"), body), status: 400, code: "unknown_parameter")
        expectError(try await client.post(server.url("/v1/explain"), Array("junk".utf8)), status: 400, code: "invalid_safetensors")
        expectError(
            try await client.post(server.url("/v1/explain"), body, contentType: "application/json"), status: 415, code: "unsupported_media_type")
        expectError(try await client.get(server.url("/v1/explain")), status: 405, code: "method_not_allowed")
        let metrics = String(decoding: try await client.get(server.url("/metrics")).body, as: UTF8.self)
        #expect(metrics.contains("endpoint=\"/v1/explain\""))
    }
}
