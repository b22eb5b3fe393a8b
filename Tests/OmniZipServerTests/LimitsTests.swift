import Foundation
import Testing

@Suite("Admission and timeouts")
struct LimitsTests {
    let client = HTTPClient()

    /// A client that sent a request's headers and part of its body: admitted, holding a slot,
    /// using no worker.
    static func holdSlot(_ server: TestServer, body: [UInt8], path: String = "/v1/compress") throws -> RawClient {
        let raw = try server.raw()
        try raw.send(Array(Raw.post(path, body).prefix(Raw.postHead(path, length: body.count).utf8.count + 10)))
        return raw
    }

    @Test func burstBeyondMaxInflightGets429() async throws {
        let body = try #require(try Golden.smallest())
        let server = try TestServer { $0.maxInflight = 2 }
        defer { server.shutdown() }
        let holders = try (0..<2).map { _ in try Self.holdSlot(server, body: body) }
        // Both admitted: their headers were parsed.
        #expect(server.waitForInflight(2))
        let replies = try await withThrowingTaskGroup(of: HTTPClient.Reply.self) { group in
            for i in 0..<6 {
                group.addTask { try await client.post(server.url(i % 2 == 0 ? "/v1/compress" : "/v1/score"), body) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for reply in replies {
            expectError(reply, status: 429, code: "too_many_requests")
            #expect(reply.header("Retry-After") == "1")
        }
        // Probes are not admitted work: still answered.
        #expect(try await client.get(server.url("/readyz")).status == 200)
        // Finishing a held request frees its slot.
        let tail = Array(Raw.post("/v1/compress", body).dropFirst(Raw.postHead("/v1/compress", length: body.count).utf8.count + 10))
        try holders[0].send(tail)
        #expect(try holders[0].readResponse().status == 200)
        #expect(try await client.post(server.url("/v1/compress"), body).status == 200)
        let metrics = String(decoding: try await client.get(server.url("/metrics")).body, as: UTF8.self)
        #expect(metrics.contains(#"omnizip_http_requests_rejected_total{reason="too_many_requests"} 6"#))
    }

    @Test func stalledClientGets408AndHoldsNoWorker() async throws {
        let body = try #require(try Golden.smallest())
        let server = try TestServer {
            $0.requestTimeout = 1
            $0.workers = 1
        }
        defer { server.shutdown() }
        let started = Date()
        let stalled = try Self.holdSlot(server, body: body)
        let headersOnly = try server.raw()
        try headersOnly.send("POST /v1/compress HTTP/1.1\r\nHost: t\r\nContent-Le")
        // The only worker is free for others meanwhile.
        #expect(try await client.post(server.url("/v1/compress"), body).status == 200)
        for raw in [stalled, headersOnly] {
            let response = try raw.readResponse()
            #expect(response.status == 408)
            #expect(response.errorCode == "request_timeout")
            #expect(response.closes)
            #expect(raw.closedByPeer())
        }
        // Not before the configured 1 s, and far from the 30 s default: the configured timeout
        // fired. The upper bound is loose because the suite shares the cores with the golden
        // tests, which run beside it.
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.9 && elapsed < 20, "took \(elapsed) s")
        // An idle keep-alive connection is not a stalled request.
        let idle = try server.raw()
        try idle.send(Raw.get("/livez"))
        #expect(try idle.readResponse().status == 200)
        try await Task.sleep(for: .milliseconds(1300))
        try idle.send(Raw.get("/livez"))
        #expect(try idle.readResponse().status == 200)
    }
}
