import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// Every rejection is a JSON error body with a stable code and a message naming the culprit.
@Suite("Errors and their JSON bodies")
struct ErrorContractTests {
    let client = HTTPClient()

    /// The smallest golden request rebuilt with changes.
    static func variant(
        drop: Set<String> = [], replace: [String: TensorBundle.Replacement] = [:],
        metadata: [String: String]? = nil
    ) throws -> [UInt8] {
        try TensorBundle(try Golden.smallest()).rewritten(metadata: metadata, drop: drop, replace: replace)
    }

    @Test func unknownPathAndWrongMethod() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        expectError(try await client.get(server.url("/v2/compress")), status: 404, code: "not_found")
        let get = try await client.get(server.url("/v1/compress"))
        expectError(get, status: 405, code: "method_not_allowed")
        #expect(get.header("Allow") == "POST")
        let post = try await client.post(server.url("/metrics"), [1, 2, 3])
        expectError(post, status: 405, code: "method_not_allowed")
        #expect(post.header("Allow") == "GET, HEAD")
    }

    @Test func malformedSafetensors() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        expectError(try await client.post(server.url("/v1/compress"), Array("not safetensors at all".utf8)), status: 400, code: "invalid_safetensors")
        expectError(try await client.post(server.url("/v1/compress"), []), status: 400, code: "invalid_safetensors")
        expectError(try await client.post(server.url("/v1/score"), [9, 0, 0, 0, 0, 0, 0, 0, 123]), status: 400, code: "invalid_safetensors")
    }

    @Test func tensorProblemsNameTheTensor() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let source = try TensorBundle(try Golden.smallest())
        let scores = try source.floats("audio_scores")
        var nanScores = scores
        nanScores[0] = .nan
        let cases: [(body: [UInt8], code: String, mentions: String)] = [
            (try Self.variant(drop: ["audio_scores"]), "missing_tensor", "audio_scores"),
            (try Self.variant(drop: ["inputs_embeds"]), "missing_tensor", "inputs_embeds"),
            (try Self.variant(replace: ["bogus": (.f32, [1], [0, 0, 0, 0])]), "unexpected_tensor", "bogus"),
            (
                try Self.variant(replace: ["audio_scores": (.i64, [scores.count], [UInt8](repeating: 0, count: 8 * scores.count))]), "invalid_dtype",
                "audio_scores"
            ),
            (
                try Self.variant(replace: ["audio_scores": (.f32, [scores.count - 1], Array(scores.dropLast().withUnsafeBytes { Array($0) }))]),
                "inconsistent_shapes", "audio_scores"
            ),
            (
                try Self.variant(replace: ["audio_scores": (.f32, [scores.count], nanScores.withUnsafeBytes { Array($0) })]), "invalid_value",
                "audio_scores"
            ),
        ]
        for (body, code, mentions) in cases {
            let reply = try await client.post(server.url("/v1/compress"), body)
            expectError(reply, status: 400, code: code)
            #expect((reply.error?["message"] as? String)?.contains(mentions) == true, "\(reply.error ?? [:])")
        }
    }

    @Test func parameterProblemsNameTheParameter() async throws {
        let body = try Golden.smallest()
        let server = try TestServer()
        defer { server.shutdown() }
        let cases: [(query: String, code: String, mentions: String)] = [
            ("?rho_audio=1.5", "invalid_parameter", "rho_audio"),
            ("?g=-1", "invalid_parameter", "'g'"),
            ("?contextual_ratio=abc", "invalid_parameter", "contextual_ratio"),
            ("?rho_vidoe=0.5", "unknown_parameter", "rho_vidoe"),
            ("?return=everything", "invalid_parameter", "return"),
            ("?rho_audio=0.1&rho_audio=0.2", "invalid_parameter", "rho_audio"),
            ("?rho%5Faudio=0.95&g=%31%35", "", ""),
        ]
        for (query, code, mentions) in cases {
            let reply = try await client.post(server.url("/v1/compress" + query), body)
            if code.isEmpty {
                // Percent-decoded names and values are fine.
                #expect(try TensorBundle(reply.bytes).metadata["g"] == "15")
                continue
            }
            expectError(reply, status: 400, code: code)
            #expect((reply.error?["message"] as? String)?.contains(mentions) == true, "\(query): \(reply.error ?? [:])")
        }
        // A broken escape (sent raw: URLSession would re-encode it).
        let raw = try server.raw()
        try raw.send(Raw.post("/v1/compress?rho_audio=%zz", body))
        let broken = try raw.readResponse()
        #expect(broken.status == 400 && broken.errorCode == "invalid_query")
        // `return` belongs to compress only.
        expectError(try await client.post(server.url("/v1/score?return=embeds"), body), status: 400, code: "unknown_parameter")
        // Metadata values are checked too.
        let badMetadata = try Self.variant(metadata: ["rho_video": "2"])
        let reply = try await client.post(server.url("/v1/compress"), badMetadata)
        expectError(reply, status: 400, code: "invalid_parameter")
        #expect((reply.error?["message"] as? String)?.contains("rho_video") == true)
    }

    @Test func unsupportedMediaTypes() async throws {
        let body = try Golden.smallest()
        let server = try TestServer()
        defer { server.shutdown() }
        expectError(try await client.post(server.url("/v1/compress"), body, contentType: "text/plain"), status: 415, code: "unsupported_media_type")
        expectError(
            try await client.post(server.url("/v1/compress"), body, contentType: "application/json"), status: 415, code: "unsupported_media_type")
        expectError(try await client.post(server.url("/v1/score"), body, contentType: "text/csv"), status: 415, code: "unsupported_media_type")
        #expect(try await client.post(server.url("/v1/compress"), body, contentType: "application/x-safetensors").status == 200)
        #expect(try await client.post(server.url("/v1/compress"), body, contentType: "Application/Octet-Stream; charset=binary").status == 200)
        // Same connection still usable after a rejected body was read and dropped.
        let raw = try server.raw()
        try raw.send(Raw.post("/v1/compress", body, type: "text/plain") + Array(Raw.get("/livez").utf8))
        #expect(try raw.readResponse().status == 415)
        #expect(try raw.readResponse().status == 200)
    }

    @Test("the usual wrong bodies are named: JSON to /v1/compress, a JSON body sent as octet-stream, no body at all")
    func wrongBodiesAreNamed() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let json = Array(#"{"audio_scores":[0.5],"audio_chunk_lens":[1],"video_chunk_lens":[4],"tokens_per_frame":4}"#.utf8)
        let typed = try await client.post(server.url("/v1/compress"), json, contentType: "application/json")
        expectError(typed, status: 415, code: "unsupported_media_type")
        #expect(
            (typed.error?["message"] as? String)?.contains("JSON bodies go to /v1/score") == true, "\((typed.error?["message"] as? String) ?? "")")
        let untyped = try await client.post(server.url("/v1/compress"), json)
        expectError(untyped, status: 400, code: "invalid_safetensors")
        #expect(
            (untyped.error?["message"] as? String)?.contains("the body is JSON, not safetensors") == true,
            "\((untyped.error?["message"] as? String) ?? "")")
        let raw = try server.raw()
        try raw.send("POST /v1/compress HTTP/1.1\r\nHost: x\r\n\r\n")
        let none = try raw.readResponse()
        #expect(none.status == 411 && none.errorCode == "length_required")
        #expect(String(decoding: none.body, as: UTF8.self).contains("this request has none"))
    }

    @Test func malformedHTTPGets400AndClose() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            for garbage in [
                "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "POST /v1/score HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                "GET /livez HTTP/1.1\r\n\r\nGET /livez HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ] {
                let raw = try server.raw()
                try raw.send(garbage)
                var response = try raw.readResponse()
                if response.status == 200 { response = try raw.readResponse() }
                #expect(response.status == 400, "\(garbage.debugDescription)")
                #expect(response.errorCode == "malformed_http")
                #expect(response.closes)
                #expect(raw.closedByPeer())
            }
        }
    }

    @Test func postWithoutLengthGets411() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send(Raw.postHead("/v1/compress", length: nil))
            let response = try raw.readResponse()
            #expect(response.status == 411)
            #expect(response.errorCode == "length_required")
            #expect(raw.closedByPeer())
        }
    }

    @Test func oversizedBodyGets413FromTheHeaders() async throws {
        try await offPool {
            let server = try TestServer { $0.maxBodyBytes = 1000 }
            defer { server.shutdown() }
            // Declared too large: answered before any body byte is sent.
            let raw = try server.raw()
            try raw.send(Raw.postHead("/v1/compress", length: 5000))
            let response = try raw.readResponse()
            #expect(response.status == 413)
            #expect(response.errorCode == "body_too_large")
            #expect((response.json?["error"] as? [String: Any])?["message"] as? String == "Content-Length 5000 exceeds the limit of 1000 bytes")
            #expect(response.closes)
            #expect(raw.closedByPeer())
            // With Expect: 100-continue the final status replaces the 100.
            let expecting = try server.raw()
            try expecting.send(Raw.postHead("/v1/score", length: 1_000_000, extra: "Expect: 100-continue\r\n"))
            #expect(try expecting.readResponse().status == 413)
            // Chunked: the total so far is checked as chunks arrive.
            let chunked = try server.raw()
            try chunked.send(Raw.postHead("/v1/compress", length: nil, extra: "Transfer-Encoding: chunked\r\n"))
            try chunked.send(Array(Raw.chunked([UInt8](repeating: 7, count: 1500), size: 600).dropLast(5)))
            let late = try chunked.readResponse()
            #expect(late.status == 413)
            #expect(late.errorCode == "body_too_large")
            #expect(chunked.closedByPeer())
        }
    }
}
