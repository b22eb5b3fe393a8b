import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// `video_budget=exact` and `POST /v1/budget` over HTTP.
@Suite("Exact budget over HTTP")
struct BudgetHTTPTests {
    let client = HTTPClient()

    func postBudget(_ server: TestServer, _ object: [String: Any], query: String = "") async throws -> HTTPClient.Reply {
        try await client.post(
            server.url("/v1/budget" + query), [UInt8](try JSONSerialization.data(withJSONObject: object)),
            contentType: "application/json")
    }

    @Test("model=qwen3-omni in the query or the body: Qwen3's defaults; an unknown model is a 400")
    func modelPreset() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let sizes: [String: Any] = ["audio_chunk_lens": [50, 50, 50, 50], "video_chunk_lens": [240, 240, 240, 240], "tokens_per_frame": 120]
        // round(0.6 * 200) + round(0.05 * 200) audio; 8 frames x int(120 * 0.3) video.
        for (body, query) in [(sizes.merging(["model": "qwen3-omni"]) { $1 }, ""), (sizes, "?model=qwen3-omni")] {
            let json = try #require(try await postBudget(server, body, query: query).json)
            #expect(json["kept_audio"] as? Int == 130 && json["kept_video"] as? Int == 288, "\(query)")
        }
        let unknown = try await postBudget(server, sizes, query: "?model=qwen2-audio")
        #expect(unknown.status == 400 && (unknown.json?["error"] as? [String: Any])?["code"] as? String == "invalid_parameter")
    }

    @Test func budgetAnswersTheTotalsFromSizes() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let reply = try await postBudget(
            server,
            [
                "audio_chunk_lens": [50, 50, 50, 3], "video_chunk_lens": [240, 240, 240, 100],
                "tokens_per_frame": 120, "rho_video": "0.6",
            ])
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "application/json")
        let json = try #require(reply.json)
        #expect(json["kept_audio"] as? Int == 115)
        #expect(json["video_target"] as? Int == 288)
        #expect(json["short_video"] as? Int == 100)
        #expect(json["kept_video"] as? Int == 388)
        #expect(json["kept"] as? Int == 503)
        #expect(json["total"] as? Int == 973)
        #expect((json["parameters"] as? [String: Any])?["video_budget"] as? String == "exact")
        // A grid instead of tokens_per_frame, and query parameters over the body's.
        let grid = try #require(
            try await postBudget(
                server,
                [
                    "audio_chunk_lens": [10], "video_chunk_lens": [240],
                    "video_grid_thw": [2, 20, 24],
                ], query: "?rho_video=0.9"
            ).json)
        #expect(grid["video_target"] as? Int == 2 * 30) // aim clamped to 0.75: int(120 * 0.25)
    }

    @Test func budgetRefusesWhatItCannotAnswer() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let sizes: [String: Any] = ["audio_chunk_lens": [4], "video_chunk_lens": [8], "tokens_per_frame": 4]
        expectError(try await postBudget(server, sizes.merging(["video_budget": "reference"]) { $1 }), status: 400, code: "invalid_parameter")
        expectError(try await postBudget(server, sizes, query: "?video_budget=nope"), status: 400, code: "invalid_parameter")
        expectError(try await postBudget(server, sizes.merging(["audio_scores": [1, 2, 3, 4]]) { $1 }), status: 400, code: "unexpected_field")
        expectError(try await postBudget(server, ["video_chunk_lens": [8]]), status: 400, code: "missing_field")
        expectError(try await postBudget(server, ["audio_chunk_lens": [0]]), status: 400, code: "invalid_value")
        expectError(try await postBudget(server, sizes, query: "?return=embeds"), status: 400, code: "unknown_parameter")
        expectError(
            try await client.post(server.url("/v1/budget"), Array("{}".utf8), contentType: "application/octet-stream"),
            status: 415, code: "unsupported_media_type")
        expectError(try await client.get(server.url("/v1/budget")), status: 405, code: "method_not_allowed")
        // Sizes alone must not make the server allocate per frame without bound.
        let huge: [String: Any] = ["audio_scores": [0.5], "audio_chunk_lens": [1], "video_chunk_lens": [1 << 40], "tokens_per_frame": 1]
        expectError(
            try await client.post(
                server.url("/v1/score?video_budget=exact"), [UInt8](try JSONSerialization.data(withJSONObject: huge)),
                contentType: "application/json"), status: 400, code: "invalid_input")
        #expect(try await client.get(server.url("/livez")).status == 200)
    }

    /// Every case under `exact`: the expected keep mask and frame counts, and totals equal to
    /// what `/v1/budget` says from the sizes alone and to what `/v1/score` plans.
    @Test func exactCompressionKeepsTheBudget() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let client = client
        try await EveryGoldenCase.expectNoProblems { name in
            let request = try TensorBundle(try Golden.request(name))
            let reply = try await client.post(server.url("/v1/compress?video_budget=exact"), request.bytes)
            guard reply.status == 200 else { return ["HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))"] }
            let response = try TensorBundle(reply.bytes)
            let exact = try TensorBundle(try Golden.expectedExact(name))
            // The mask and frame counts are the exact expectation's; stages 1 and 2 the reference's.
            var found = try GoldenParity.mismatches(response: response, expected: TensorBundle(try Golden.expected(name)), exact: exact)

            let sizes = try RequestLayout(request).sizesJSON()
            let budget = try await client.post(
                server.url("/v1/budget"), [UInt8](try JSONSerialization.data(withJSONObject: sizes)),
                contentType: "application/json"
            ).json
            for key in ["kept_audio", "kept_video"] where budget?[key] as? Int != Int(response.metadata[key] ?? "") {
                found.append("/v1/budget \(key) \(budget?[key] ?? "-") but compress kept \(response.metadata[key] ?? "-")")
            }
            let plan = try await client.post(server.url("/v1/score?video_budget=exact"), request.bytes).json
            if plan?["kept_video"] as? Int != Int(response.metadata["kept_video"] ?? "") {
                found.append("/v1/score kept_video \(plan?["kept_video"] ?? "-") but compress kept \(response.metadata["kept_video"] ?? "-")")
            }
            return found
        }
    }
}
