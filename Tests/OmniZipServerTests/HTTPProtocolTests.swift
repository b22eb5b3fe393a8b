import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// HTTP/1.1 mechanics over raw sockets: what an ordinary client hides.
@Suite("HTTP/1.1 connection handling")
struct HTTPProtocolTests {
    static func scoreJSON() -> [UInt8] {
        Array(#"{"audio_scores":[0.5,0.1,0.9,0.3],"audio_chunk_lens":[2,2],"video_chunk_lens":[8],"tokens_per_frame":4}"#.utf8)
    }

    @Test func keepAliveReusesTheConnection() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            for _ in 0..<3 {
                try raw.send(Raw.get("/livez"))
                let probe = try raw.readResponse()
                #expect(probe.status == 200 && !probe.closes)
                try raw.send(Raw.post("/v1/compress", body))
                let compressed = try raw.readResponse()
                #expect(compressed.status == 200 && compressed.headers["content-type"] == "application/octet-stream")
                #expect(try TensorBundle(compressed.body).names.contains("keep_mask"))
            }
        }
    }

    /// Pipelined requests answered in request order whatever order they finish in is the
    /// core's (ConnectionCoreTests.pipelining); here, each answer on the wire carries its own
    /// request's id.
    @Test func pipelinedAnswersCarryTheirRequestIDs() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            var burst = Raw.post("/v1/compress", try Golden.smallest(), extra: "X-Request-Id: one\r\n")
            burst += Array(Raw.get("/livez", "X-Request-Id: two\r\n").utf8)
            burst += Raw.post("/v1/score", Self.scoreJSON(), type: "application/json", extra: "X-Request-Id: three\r\n")
            burst += Array(Raw.get("/nowhere", "X-Request-Id: four\r\n").utf8)
            try raw.send(burst)
            let responses = try (0..<4).map { _ in try raw.readResponse() }
            #expect(responses.map(\.status) == [200, 200, 200, 404])
            #expect(responses.map { $0.headers["x-request-id"] ?? "" } == ["one", "two", "three", "four"])
            #expect(responses[2].json?["kept_audio"] != nil)
        }
    }

    @Test func chunkedBodiesGiveTheSameAnswer() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send(Raw.post("/v1/compress", body))
            let plain = try raw.readResponse()
            try raw.send(
                Array(Raw.postHead("/v1/compress", length: nil, extra: "Transfer-Encoding: chunked\r\n").utf8) + Raw.chunked(body, size: 1000))
            let chunked = try raw.readResponse()
            #expect(plain.status == 200 && chunked.status == 200)
            #expect(plain.body == chunked.body)
            // JSON score, chunked in tiny pieces.
            try raw.send(
                Array(Raw.postHead("/v1/score", length: nil, type: "application/json", extra: "Transfer-Encoding: chunked\r\n").utf8)
                    + Raw.chunked(Self.scoreJSON(), size: 7))
            let score = try raw.readResponse()
            #expect(score.status == 200 && score.json?["total_audio"] as? Int == 4)
        }
    }

    @Test func expectContinueIsAnsweredAtOnce() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send(Raw.postHead("/v1/compress", length: body.count, extra: "Expect: 100-continue\r\n"))
            let interim = try raw.readResponse()
            #expect(interim.status == 100)
            try raw.send(body)
            #expect(try raw.readResponse().status == 200)
            // A request the headers already doom gets its final status instead, and the close.
            try raw.send(Raw.postHead("/v1/compress", length: body.count, type: "text/plain", extra: "Expect: 100-continue\r\n"))
            let refused = try raw.readResponse()
            #expect(refused.status == 415 && refused.closes)
            #expect(raw.closedByPeer())
        }
    }

    @Test func requestsSentInPiecesAreReassembled() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            let request = Raw.post("/v1/compress?rho_audio=0.5", body, extra: "X-Request-Id: slowpoke\r\n")
            // Split inside the request line, inside headers and across the body.
            try raw.sendSlowly(Array(request.prefix(200)), pieces: 3, pause: 0.002)
            try raw.sendSlowly(Array(request.dropFirst(200)), pieces: 40_000, pause: 0.01)
            let response = try raw.readResponse()
            #expect(response.status == 200 && response.headers["x-request-id"] == "slowpoke")
            #expect(try TensorBundle(response.body).metadata["rho_audio"] == "0.5")
        }
    }

    @Test func connectionCloseAndHTTP10AreHonoured() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            let close = try server.raw()
            try close.send(Raw.get("/livez", "Connection: close\r\n") + Raw.get("/livez"))
            let answered = try close.readResponse()
            #expect(answered.status == 200 && answered.closes)
            #expect(close.closedByPeer(), "the pipelined second request is not answered")

            let old = try server.raw()
            try old.send("GET /livez HTTP/1.0\r\n\r\n")
            #expect(try old.readResponse().closes)
            #expect(old.closedByPeer())

            let oldKeepAlive = try server.raw()
            try oldKeepAlive.send("GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try oldKeepAlive.readResponse().headers["connection"]?.lowercased() == "keep-alive")
            try oldKeepAlive.send("GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try oldKeepAlive.readResponse().status == 200)
        }
    }

    @Test func headOnAPostEndpointIs405WithoutABody() async throws {
        try await offPool {
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send("HEAD /v1/compress HTTP/1.1\r\nHost: t\r\n\r\n" + Raw.get("/livez"))
            // No body may follow a HEAD response, whatever its Content-Length says.
            var text = ""
            while !text.contains("{\"status\":\"ok\"}") {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = recv(raw.fd, &chunk, chunk.count, 0)
                if n <= 0 { break }
                text += String(decoding: chunk[0..<n], as: UTF8.self)
            }
            #expect(text.hasPrefix("HTTP/1.1 405 "))
            #expect(text.contains("Allow: POST\r\n"))
            let second = try #require(text.range(of: "HTTP/1.1 200 OK"))
            #expect(!text[..<second.lowerBound].contains("{"), "the 405 carried a body")
        }
    }

    @Test func halfClosedClientStillGetsItsAnswer() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            defer { server.shutdown() }
            let raw = try server.raw()
            try raw.send(Raw.post("/v1/compress", body) + Array(Raw.get("/livez").utf8))
            raw.shutdownWrite()
            let first = try raw.readResponse()
            let second = try raw.readResponse()
            // Connection: close on the second only if the server saw our FIN before writing it.
            #expect(first.status == 200 && second.status == 200)
            #expect(raw.closedByPeer())
        }
    }

    @Test func resetsAndAbandonedRequestsLeakNothing() async throws {
        let body = try Golden.smallest()
        let server = try TestServer { $0.maxInflight = 2 }
        defer { server.shutdown() }
        for _ in 0..<4 {
            // Headers and half a body, then a reset: the admission slot must come back.
            let raw = try server.raw()
            try raw.send(Array(Raw.post("/v1/compress", body).prefix(body.count / 2)))
            raw.reset()
            // A full request, reset before its answer.
            let early = try server.raw()
            try early.send(Raw.post("/v1/compress", body))
            early.reset()
            let quitter = try server.raw()
            try quitter.send(Array(Raw.post("/v1/score", Self.scoreJSON(), type: "application/json").prefix(60)))
            quitter.shutdownWrite()
            #expect(quitter.closedByPeer())
        }
        let client = HTTPClient()
        var inflight = -1
        for _ in 0..<100 {
            inflight = try await client.get(server.url("/v1/info")).json?["inflight"] as? Int ?? -1
            if inflight == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(inflight == 0)
        #expect(try await client.post(server.url("/v1/compress"), body).status == 200)
    }
}
