import Foundation
import OmniZipTestSupport
import Testing

/// Scratch that cannot be had (here: a small injected lending limit) fails the request, not the
/// process: 503 with a JSON error, and the next request is served.
@Suite("Memory exhaustion")
struct MemoryExhaustionTests {
    let client = HTTPClient()

    static var name: String { Golden.cases.first { $0.hasPrefix("public-001") } ?? Golden.cases[0] }

    @Test("a compression or explain page whose scratch cannot be had gets 503; the server goes on")
    func wholeBody() async throws {
        let server = try TestServer { $0.scratchLimitBytes = 64 << 10 }
        defer { server.shutdown() }
        let body = try Golden.request(Self.name)
        for path in ["/v1/compress", "/v1/compress?return=embeds", "/v1/explain"] {
            let reply = try await client.post(server.url(path), body)
            expectError(reply, status: 503, code: "insufficient_memory")
            #expect(reply.header("Retry-After") == "1")
            #expect(reply.error?["message"] as? String ?? "" ~= "scratch memory")
        }
        // Scoring needs no scratch, probes none: both still answered.
        #expect(try await client.post(server.url("/v1/score"), body).status == 200)
        #expect(try await client.get(server.url("/livez")).status == 200)
        #expect(server.server.configuration.scratchLimitBytes == 64 << 10)
    }

    @Test("a body streamed in pieces is refused the same way, whichever unit runs short")
    func streamed() async throws {
        try await offPool {
            let server = try TestServer {
                $0.scratchLimitBytes = 64 << 10
                $0.unixSocket = TestServer.socketPath()
            }
            defer { server.shutdown() }
            let body = try Golden.request(Self.name)
            for _ in 0..<3 {
                let raw = try server.rawUnix(timeout: 60)
                try raw.send(Raw.postHead("/v1/compress", length: body.count))
                try raw.sendSlowly(body, pieces: 1500, pause: 0)
                let answer = try raw.readResponse()
                #expect(answer.status == 503 && answer.errorCode == "insufficient_memory")
            }
        }
    }

    @Test("with room for the scratch, the same server configuration answers 200")
    func enoughRoom() async throws {
        let server = try TestServer { $0.scratchLimitBytes = 256 << 20 }
        defer { server.shutdown() }
        let reply = try await client.post(server.url("/v1/compress"), try Golden.request(Self.name))
        #expect(reply.status == 200)
        #expect(try GoldenParity.mismatches(response: TensorBundle(reply.bytes), expected: TensorBundle(try Golden.expected(Self.name))) == [])
    }
}

private func ~= (text: String, part: String) -> Bool { text.contains(part) }
