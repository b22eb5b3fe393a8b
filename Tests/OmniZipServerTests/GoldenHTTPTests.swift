import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// The parity vectors through the whole HTTP path.
@Suite("Golden vectors over HTTP")
struct GoldenHTTPTests {
    let client = HTTPClient()

    @Test(.requires(SharedData.goldenPrerequisite))
    func sharedSetPresent() {
        #expect(!Golden.sharedCases.isEmpty && Set(Golden.cases).isSuperset(of: Golden.sharedCases))
    }

    /// Parity on every case over HTTP is StreamedBodyTests' (each case in pieces over the Unix
    /// socket): here one case per shape, whole over TCP, with the metadata and timings.
    @Test func eachShapeCompressesToItsExpectation() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let client = client
        try await EveryGoldenCase.expectNoProblems(Golden.sample) { name in
            let reply = try await client.post(server.url("/v1/compress"), try Golden.request(name))
            guard reply.status == 200 else { return ["HTTP \(reply.status): \(String(decoding: reply.body, as: UTF8.self))"] }
            let response = try TensorBundle(reply.bytes)
            var found = try GoldenParity.mismatches(response: response, expected: TensorBundle(try Golden.expected(name)))
            for key in ["kept_audio", "total", "video_budget"] where response.metadata[key] == nil {
                found.append("metadata '\(key)' missing")
            }
            // Timings travel in Server-Timing only: the body is the same bytes on every call.
            if let timed = response.metadata.keys.first(where: { $0.hasSuffix("_ms") }) { found.append("timing '\(timed)' in the body") }
            let timing = reply.header("Server-Timing") ?? ""
            for phase in ["queue", "decode", "compress", "encode", "core_plan", "core_audio", "core_video", "core_merge"]
            where !timing.contains("\(phase);dur=") {
                found.append("Server-Timing lacks \(phase): \(timing)")
            }
            if !response.names.isSuperset(of: [
                "keep_mask", "kept_index", "merged_index", "merged_embeds", "video_chunk_ratio", "audio_chunk_retention",
            ]) {
                found.append("tensors: \(response.names.sorted())")
            }
            return found
        }
    }

    @Test func scoreKeptCountsMatchTheExpectations() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let client = client
        try await EveryGoldenCase.expectNoProblems { name in
            let request = try TensorBundle(try Golden.request(name))
            let layout = try RequestLayout(request)
            let want = layout.keptCounts(try TensorBundle(try Golden.expected(name)).bools("keep_mask"))
            var out: [String] = []
            // Safetensors in, JSON out.
            let json = try await client.post(server.url("/v1/score"), request.bytes).json
            if json?["kept_audio"] as? Int != want.audio || json?["kept_video"] as? Int != want.video {
                out.append("safetensors score: \(json?["kept_audio"] ?? "-")/\(json?["kept_video"] ?? "-"), expected \(want)")
            }
            // JSON in, safetensors out.
            let body = try JSONSerialization.data(withJSONObject: layout.sizesJSON(scores: try request.floats("audio_scores")))
            let reply = try await client.post(
                server.url("/v1/score"), [UInt8](body), contentType: "application/json",
                headers: ["Accept": "application/octet-stream"])
            if reply.status != 200 || reply.header("Content-Type") != "application/octet-stream" {
                out.append("JSON score: HTTP \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
            } else {
                let plan = try TensorBundle(reply.bytes)
                if plan.metadata["kept_audio"] != String(want.audio) || plan.metadata["kept_video"] != String(want.video) {
                    out.append("JSON score: \(plan.metadata["kept_audio"] ?? "-")/\(plan.metadata["kept_video"] ?? "-"), expected \(want)")
                }
            }
            return out
        }
    }

    /// The same request gives the same response bytes, whole bodies compared, at any worker
    /// count and arrival pattern.
    @Test func concurrentClientsGetTheSameBytesAsSerialOnes() async throws {
        let names = Array(Golden.sample.filter { Golden.size($0) < 4 << 20 }.prefix(8))
        let serialServer = try TestServer { $0.workers = 1 }
        var serial: [String: [UInt8]] = [:]
        for name in names {
            serial[name] = try await client.post(serialServer.url("/v1/compress"), try Golden.request(name)).bytes
        }
        serialServer.shutdown()

        let server = try TestServer {
            $0.workers = 2; $0.maxInflight = 64
        }
        defer { server.shutdown() }
        let client = client
        let expected = serial
        try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
            for round in 0..<2 {
                for name in names.shuffled() {
                    group.addTask {
                        let reply = try await client.post(
                            server.url("/v1/compress"), try Golden.request(name),
                            headers: ["X-Request-Id": "\(name)-\(round)"])
                        return (name, reply.bytes)
                    }
                }
            }
            for try await (name, body) in group {
                #expect(body == expected[name], "\(name) differs under concurrency")
            }
        }
    }

    /// The parity over a Unix socket, on one keep-alive connection. Bodies over 64 kB, so
    /// they take the direct-read path too.
    @Test func unixSocketAnswersMatchTheExpectations() throws {
        let server = try TestServer {
            $0.unixSocket = TestServer.socketPath(); $0.listensOnTCP = false
        }
        defer { server.shutdown() }
        let raw = try server.rawUnix(timeout: 60)
        let names = Array(Golden.cases.filter { (64 << 10..<4 << 20).contains(Golden.size($0)) }.prefix(4))
        for name in names {
            try raw.send(Raw.post("/v1/compress", try Golden.request(name)))
            let reply = try raw.readResponse()
            #expect(reply.status == 200, "\(name): HTTP \(reply.status)")
            let found = try GoldenParity.mismatches(response: TensorBundle(reply.body), expected: TensorBundle(try Golden.expected(name)))
            #expect(found.isEmpty, "\(name): \(found)")
        }
        #expect(names.count == 4)
    }

    @Test func returnEmbedsAddsTheCompressedSequence() async throws {
        let name = try #require(Golden.cases.first { $0.contains("bf16") } ?? Golden.cases.first)
        let server = try TestServer()
        defer { server.shutdown() }
        let request = try TensorBundle(try Golden.request(name))
        let plain = try TensorBundle(try await client.post(server.url("/v1/compress"), request.bytes).bytes)
        #expect(!plain.names.contains("compressed_embeds"))
        let reply = try await client.post(server.url("/v1/compress?return=embeds"), request.bytes)
        #expect(reply.status == 200)
        let full = try TensorBundle(reply.bytes)
        let tensor = try #require(full.file.tensor("compressed_embeds"))
        let kept = try full.ints("kept_index")
        let dimension = try #require(request.file.tensor("inputs_embeds")?.shape.last)
        #expect(tensor.shape == [kept.count, dimension])
        #expect(tensor.dtype == request.dtype("inputs_embeds"))
        #expect(try GoldenParity.mismatches(response: full, expected: TensorBundle(try Golden.expected(name))).isEmpty)
        // Query parameters override __metadata__ and show in the response metadata.
        let overridden = try TensorBundle(try await client.post(server.url("/v1/compress?rho_audio=0.9&g=0"), request.bytes).bytes)
        #expect(overridden.metadata["rho_audio"] == "0.9" && overridden.metadata["g"] == "0")
    }
}
