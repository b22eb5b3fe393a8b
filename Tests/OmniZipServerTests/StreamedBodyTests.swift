import Foundation
import OmniZipCore
import OmniZipSynthetic
import OmniZipTestSupport
import Testing

/// A compress request's body streams: its compression starts once the header and small tensors
/// are in, and runs units as rows arrive. The answer must not depend on how the bytes came.
@Suite("Streamed bodies: compression while the body arrives", .serialized)
struct StreamedBodyTests {
    static let clip = SyntheticClip(chunks: 8, tokensPerFrame: 12, dimension: 37, audioPerChunk: 40, seed: 5)

    func streamedCount(_ server: TestServer) throws -> Int {
        let raw = try server.raw()
        try raw.send(Raw.get("/metrics", "Connection: close\r\n"))
        let text = String(decoding: try raw.readResponse().body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("omnizip_requests_streamed_total ") }
        return line.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    }

    /// Sends `body` to `path` in pieces of random length (1...`largest`), pausing now and then so
    /// that the server reads partial bodies.
    func post(_ server: TestServer, _ path: String, _ body: [UInt8], largest: Int, seed: UInt64) throws -> RawClient.Response {
        let raw = try server.raw(timeout: 60)
        try raw.send(Raw.postHead(path, length: body.count))
        var random = SeededRandom(seed)
        var start = 0
        while start < body.count {
            let end = min(body.count, start + random.int(1...largest))
            try raw.send(Array(body[start..<end]))
            start = end
            if random.int(0...9) == 0 { usleep(500) }
        }
        return try raw.readResponse()
    }

    /// A clip small enough to send one byte per write (each write is a read and a parse on the
    /// server: under ThreadSanitizer the big clip's 75,000 would slow every other test's uploads).
    static let small = SyntheticClip(chunks: 3, tokensPerFrame: 12, dimension: 16, audioPerChunk: 20, seed: 6)

    @Test(
        "whole, in 1-byte writes, in random splits and chunked: the same bytes",
        arguments: [ElementType.bfloat16, .float32], ["/v1/compress", "/v1/compress?return=embeds", "/v1/explain"])
    func arrivalPatterns(type: ElementType, path: String) async throws {
        try await offPool {
            // 1-byte writes from a test process sharing the cores are slower than the upload minimum.
            let server = try TestServer()
            defer { server.shutdown() }
            var streamed = 0
            for (clip, largest) in [(Self.small, 1), (Self.clip, 4000)] {
                let body = clip.requestBody(elementType: type)
                // Chunked bodies take the whole-body path: the reference.
                let raw = try server.raw(timeout: 60)
                try raw.send(Array(Raw.postHead(path, length: nil, extra: "Transfer-Encoding: chunked\r\n").utf8) + Raw.chunked(body, size: 777))
                let reference = try raw.readResponse()
                #expect(reference.status == 200)
                #expect(try streamedCount(server) == streamed)
                var answers = [try post(server, path, body, largest: body.count, seed: 1)]
                for seed in 3...(largest == 1 ? 3 : 5) { answers.append(try post(server, path, body, largest: largest, seed: UInt64(seed))) }
                for answer in answers {
                    let same = answer.body == reference.body
                    #expect(answer.status == 200 && same, "HTTP \(answer.status), \(answer.body.count) bytes, identical: \(same)")
                }
                streamed += answers.count
                #expect(try streamedCount(server) == streamed)
            }
        }
    }

    @Test("a request abandoned mid-upload is cancelled and gives its memory back")
    func abandoned() async throws {
        try await offPool {
            // A cancelled stream lives until its running units return: room for all three at once.
            let server = try TestServer { $0.workers = 3 }
            defer { server.shutdown() }
            let body = Self.clip.requestBody(elementType: .bfloat16)
            for _ in 0..<3 {
                let raw = try server.raw()
                try raw.send(Raw.postHead("/v1/compress", length: body.count))
                try raw.send(Array(body[0..<(body.count * 2 / 3)]))
                #expect(server.waitForInflight(1))
                raw.reset()
                #expect(server.waitForInflight(0))
            }
            #expect(try streamedCount(server) == 3)
            // The server still answers, the same as before.
            let whole = try post(server, "/v1/compress", body, largest: body.count, seed: 7)
            #expect(whole.status == 200)
            #expect(try TensorBundle(whole.body).names.contains("keep_mask"))
        }
    }

    @Test("no more streams than workers: a second upload waits for its last byte")
    func streamLimit() async throws {
        try await offPool {
            let server = try TestServer { $0.workers = 1 }
            defer { server.shutdown() }
            let body = Self.clip.requestBody(elementType: .bfloat16)
            let first = try server.raw(), second = try server.raw()
            for raw in [first, second] {
                try raw.send(Raw.postHead("/v1/compress", length: body.count))
                try raw.send(Array(body[0..<(body.count / 2)]))
            }
            #expect(server.waitForInflight(2))
            #expect(try streamedCount(server) == 1)
            for raw in [first, second] { try raw.send(Array(body[(body.count / 2)...])) }
            let answers = try [first.readResponse(), second.readResponse()]
            #expect(answers.allSatisfy { $0.status == 200 } && answers[0].body == answers[1].body)
        }
    }

    @Test("every golden case, sent in pieces over the Unix socket, keeps parity and streams")
    func goldenOverUnixSocket() async throws {
        try await offPool {
            let server = try TestServer { $0.unixSocket = TestServer.socketPath() }
            defer { server.shutdown() }
            var problems: [String] = []
            for name in Golden.cases {
                let body = try Golden.request(name)
                let raw = try server.rawUnix(timeout: 60)
                try raw.send(Raw.postHead("/v1/compress", length: body.count))
                try raw.sendSlowly(body, pieces: 1500, pause: 0)
                let answer = try raw.readResponse()
                guard answer.status == 200 else {
                    problems.append("\(name): HTTP \(answer.status)")
                    continue
                }
                let found = try GoldenParity.mismatches(response: TensorBundle(answer.body), expected: TensorBundle(try Golden.expected(name)))
                problems += found.map { "\(name): \($0)" }
            }
            #expect(problems.isEmpty, "\(problems)")
            #expect(try streamedCount(server) == Golden.cases.count)
        }
    }
}
