import Foundation
import OmniZipTestSupport
import Testing

/// Admission, upload limits and the connection cap over real sockets. The timing rules
/// themselves are tested with a manual clock (ConnectionStateMachineTests).
@Suite("Admission, upload limits and connection cap")
struct LimitsTests {
    let client = HTTPClient()

    /// A client that sent a request's headers and a few body bytes, then stalls.
    static func stall(_ server: TestServer, body: [UInt8], path: String = "/v1/compress") throws -> RawClient {
        let raw = try server.raw()
        try raw.send(Array(Raw.post(path, body).prefix(Raw.postHead(path, length: body.count).utf8.count + 10)))
        return raw
    }

    @Test func stalledUploadsHoldNoWorkerSlot() async throws {
        let body = try Golden.smallest()
        // Timeouts are not the point here: a slow, loaded machine must not turn the stall into a 408.
        let server = try TestServer {
            $0.maxInflight = 2; $0.workers = 1; $0.minUploadRate = 0; $0.requestTimeout = 600
        }
        defer { server.shutdown() }
        let stalled = try (0..<4).map { _ in try Self.stall(server, body: body) }
        #expect(server.waitForInflight(4), "uploads in progress are admitted")
        // Before, four stalled uploads filled --max-inflight and everyone else got 429.
        for i in 0..<6 {
            let reply = try await client.post(server.url(i % 2 == 0 ? "/v1/compress" : "/v1/score"), body)
            #expect(reply.status == 200, "request \(i): \(reply.status)")
        }
        // A stalled upload that resumes is answered as usual.
        try stalled[0].send(Array(Raw.post("/v1/compress", body).dropFirst(Raw.postHead("/v1/compress", length: body.count).utf8.count + 10)))
        #expect(try stalled[0].readResponse().status == 200)
    }

    @Test func aBodyOverTheMemoryBudgetGets429FromItsHeaders() async throws {
        let server = try TestServer { $0.maxBufferedBytes = 300_000 }
        defer { server.shutdown() }
        let holder = try server.raw()
        try holder.send(Raw.postHead("/v1/compress", length: 200_000))
        #expect(server.waitForInflight(1))
        // Only the headers: the answer must not wait for the 200 kB body, and it closes.
        let refused = try server.raw(timeout: 5)
        try refused.send(Raw.postHead("/v1/compress", length: 200_000))
        let response = try refused.readResponse()
        #expect(response.status == 429 && response.errorCode == "too_many_requests")
        #expect(response.headers["retry-after"] == "1" && response.closes)
        #expect(String(decoding: response.body, as: UTF8.self).contains("--max-buffered-bytes"))
        #expect(refused.closedByPeer())
        // What fits is admitted.
        let small = try await client.post(server.url("/v1/budget"), Array(#"{"audio_chunk_lens":[4]}"#.utf8), contentType: "application/json")
        #expect(small.status == 200)
        let metrics = String(decoding: try await client.get(server.url("/metrics")).body, as: UTF8.self)
        #expect(metrics.contains(#"omnizip_http_requests_rejected_total{reason="too_many_requests"} 1"#))
    }

    @Test func aRefusedSmallBodyKeepsTheConnection() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send(Raw.post("/nope", Array(repeating: 7, count: 1000)) + Array(Raw.get("/livez").utf8))
            let missing = try raw.readResponse()
            #expect(missing.status == 404 && !missing.closes)
            #expect(try raw.readResponse().status == 200)
        }
    }

    /// Issue 21, D5: two uploads declaring the whole body budget and trickling cannot keep a
    /// well-behaved request out: when its body does not fit, uploads that cannot finish before
    /// their deadline give their reservations back (408) and it is admitted. Before, it got 429
    /// until the trickles were cut at the 5 s upload grace.
    @Test func hopelessUploadsGiveTheirMemoryToARequestThatNeedsIt() async throws {
        try await offPool {
            let server = try TestServer {
                $0.maxBufferedBytes = 4 << 20; $0.minUploadRate = 1024; $0.uploadGrace = 60; $0.requestTimeout = 30
            }
            defer { server.shutdown() }
            let trickles = try (0..<2).map { _ in try server.raw(timeout: 10) }
            for raw in trickles {
                try raw.send(Raw.postHead("/v1/compress", length: 2 << 20))
                try raw.send([UInt8](repeating: 0, count: 2000))
            }
            #expect(server.waitForInflight(2))
            Thread.sleep(forTimeInterval: 1.2)
            let good = try server.raw(timeout: 10)
            try good.send(Raw.post("/v1/score", HTTPProtocolTests.scoreJSON(), type: "application/json"))
            let answer = try good.readResponse()
            #expect(answer.status == 200, "HTTP \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            for raw in trickles {
                let cut = try raw.readResponse()
                #expect(cut.status == 408 && String(decoding: cut.body, as: UTF8.self).contains("another request needs the memory"))
            }
        }
    }

    @Test func aSlowUploadGets408() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer {
                $0.minUploadRate = 1 << 20; $0.uploadGrace = 0.5
            }
            defer { server.shutdown() }
            let slow = try Self.stall(server, body: body)
            let response = try slow.readResponse()
            #expect(response.status == 408 && response.errorCode == "request_timeout" && response.closes)
            #expect(String(decoding: response.body, as: UTF8.self).contains("bytes/s, below the minimum of 1048576 bytes/s"))
            #expect(slow.closedByPeer())
            #expect(server.waitForInflight(0), "the slot came back")
        }
    }

    @Test func stalledClientGets408AndHoldsNoWorker() async throws {
        let body = try Golden.smallest()
        let server = try TestServer {
            $0.requestTimeout = 1
            $0.workers = 1
        }
        defer { server.shutdown() }
        let stalled = try Self.stall(server, body: body)
        let headersOnly = try server.raw()
        try headersOnly.send("POST /v1/compress HTTP/1.1\r\nHost: t\r\nContent-Le")
        // The only worker is free for others meanwhile.
        #expect(try await client.post(server.url("/v1/compress"), body).status == 200)
        for raw in [stalled, headersOnly] {
            let response = try raw.readResponse()
            #expect(response.status == 408)
            #expect(response.errorCode == "request_timeout")
            #expect(String(decoding: response.body, as: UTF8.self).contains("within 1.0 s"))
            #expect(response.closes)
            #expect(raw.closedByPeer())
        }
    }

    @Test func aSilentConnectionGivesUpItsSlotToANewOne() async throws {
        try await offPool {
            let server = try TestServer { $0.maxConnections = 3 }
            defer { server.shutdown() }
            let busy = try server.raw(timeout: 5)
            try busy.send(Raw.get("/livez"))
            #expect(try busy.readResponse().status == 200)
            var silent: [RawClient] = []
            for _ in 0..<2 {
                silent.append(try server.raw(timeout: 5))
                usleep(50_000) // distinct opening times: the first is the oldest
            }
            // All three slots are held; a client that sends is served, the oldest silent socket closed.
            let client = try server.raw(timeout: 5)
            try client.send(Raw.get("/livez"))
            #expect(try client.readResponse().status == 200)
            #expect(silent[0].closedByPeer(), "the oldest silent connection made room")
            try busy.send(Raw.get("/livez"))
            #expect(try busy.readResponse().status == 200, "a connection that sent requests keeps its slot")
            try client.send(Raw.get("/metrics"))
            let text = String(decoding: try client.readResponse().body, as: UTF8.self)
            #expect(text.contains(#"omnizip_http_connections_rejected_total{reason="silent"} 1"#))
        }
    }

    @Test func connectionsPastTheCapAreClosedAndCounted() async throws {
        let server = try TestServer { $0.maxConnections = 3 }
        defer { server.shutdown() }
        var open: [RawClient] = []
        for _ in 0..<3 {
            let raw = try server.raw(timeout: 5)
            try raw.send(Raw.get("/livez"))
            #expect(try raw.readResponse().status == 200)
            open.append(raw)
        }
        let extra = try server.raw(timeout: 5)
        #expect(extra.closedByPeer(), "the fourth connection is closed at once")
        open.removeLast() // closes one
        var reply: RawClient.Response?
        for _ in 0..<50 where reply == nil {
            if let raw = try? server.raw(timeout: 5), (try? raw.send(Raw.get("/metrics"))) != nil {
                reply = try? raw.readResponse()
            }
            if reply == nil { usleep(20_000) }
        }
        let text = String(decoding: try #require(reply).body, as: UTF8.self)
        #expect(text.contains(#"omnizip_http_connections_rejected_total{reason="limit"}"#))
    }
}
