import Foundation
import OmniZipTestSupport
import Testing

/// Request syntax a lenient parser would let through, and methods: what RFC 9110/9112 require.
@Suite("HTTP strictness: header syntax, methods, length messages")
struct ProtocolStrictnessTests {
    /// One raw request on a fresh connection: its response, and whether the server then closed.
    func exchange(_ server: TestServer, _ request: String) throws -> (RawClient.Response, closed: Bool) {
        let raw = try server.raw(timeout: 5)
        try raw.send(request)
        let response = try raw.readResponse()
        return (response, response.closes && raw.closedByPeer())
    }

    @Test(
        "whitespace before a header colon is refused (request smuggling)",
        arguments: [
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Length : 2\r\nContent-Type: application/json\r\n\r\n{}",
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Length\t: 2\r\nContent-Type: application/json\r\n\r\n{}",
            "GET /livez HTTP/1.1\r\nHost: t\r\nX-Id : 1\r\n\r\n",
        ])
    func whitespaceBeforeColon(request: String) throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let (response, closed) = try exchange(server, request)
        #expect(response.status == 400)
        #expect(response.errorCode == "malformed_http")
        // A space reaches our check; http_parser itself refuses a tab there.
        let message = String(decoding: response.body, as: UTF8.self)
        #expect(message.contains("whitespace between a header name and its colon") || message.contains("invalid character in header"))
        #expect(closed)
    }

    @Test(
        "a folded header line (obs-fold) is refused, Transfer-Encoding or not",
        arguments: [
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: one\r\n  two\r\n\r\n",
        ])
    func obsFold(request: String) throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let (response, closed) = try exchange(server, request)
        #expect(response.status == 400 && response.errorCode == "malformed_http")
        #expect(String(decoding: response.body, as: UTF8.self).contains("obs-fold"))
        #expect(closed)
    }

    @Test func aFoldSplitAcrossReadsIsRefusedAndASplitValueIsNot() throws {
        let server = try TestServer()
        defer { server.shutdown() }
        // The fold's line feed in one read, its blank and value in the next.
        let folded = try server.raw(timeout: 5)
        try folded.send("GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: one\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        try folded.send("  two\r\n\r\n")
        let refused = try folded.readResponse()
        #expect(refused.status == 400 && String(decoding: refused.body, as: UTF8.self).contains("obs-fold"))
        // A value cut in the middle, and a line cut right after its line feed, are ordinary.
        let split = try server.raw(timeout: 5)
        try split.send("GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: o")
        Thread.sleep(forTimeInterval: 0.2)
        try split.send("ne\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        try split.send("X-Other: two\r\n\r\n")
        #expect(try split.readResponse().status == 200)
    }

    @Test(
        "chunked applied twice is refused",
        arguments: [
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, chunked\r\n",
        ])
    func chunkedTwice(lines: String) throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let (response, closed) = try exchange(
            server, "POST /v1/score HTTP/1.1\r\nHost: t\r\n\(lines)Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        #expect(response.status == 400 && response.errorCode == "malformed_http")
        #expect(String(decoding: response.body, as: UTF8.self).contains("chunked transfer coding applied more than once"))
        #expect(closed)
    }

    @Test("other header-name syntax errors are 400 too", arguments: ["X@Id: 1", "X(Id): 1", "X\"Id: 1"])
    func headerNameSyntax(field: String) throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let (response, closed) = try exchange(server, "GET /livez HTTP/1.1\r\nHost: t\r\n\(field)\r\n\r\n")
        #expect(response.status == 400 && response.errorCode == "malformed_http")
        #expect(closed)
    }

    @Test func unknownMethodsAre501() throws {
        let server = try TestServer()
        defer { server.shutdown() }
        // Unknown to the parser: the connection cannot continue.
        let (query, closed) = try exchange(server, "QUERY /v1/score HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        #expect(query.status == 501 && query.errorCode == "not_implemented")
        #expect(closed)
        // Known, but no endpoint here takes it: 501, and the connection stays usable.
        let raw = try server.raw(timeout: 5)
        try raw.send("PUT /v1/compress HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab" + Raw.get("/livez"))
        let put = try raw.readResponse()
        #expect(put.status == 501 && put.errorCode == "not_implemented" && !put.closes)
        #expect(try raw.readResponse().status == 200)
    }

    @Test func wrongMethodForThePathIs405WithAllow() throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let (get, _) = try exchange(server, Raw.get("/v1/budget"))
        #expect(get.status == 405 && get.headers["allow"] == "POST")
        let (post, _) = try exchange(server, "POST /readyz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
    }

    @Test("HEAD works on every GET endpoint: the GET headers, no body", arguments: ["/livez", "/healthz", "/readyz", "/v1/info", "/metrics"])
    func head(path: String) throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let raw = try server.raw(timeout: 5)
        try raw.send(Raw.get(path))
        let get = try raw.readResponse()
        // A HEAD answer has no body whatever its Content-Length says; a body would be read as the
        // next response, so send HEAD then GET and read past the HEAD's headers by hand.
        try raw.send("HEAD \(path) HTTP/1.1\r\nHost: t\r\n\r\n" + Raw.get("/livez"))
        var text = ""
        while !text.contains("{\"status\":\"ok\"}") {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(raw.fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            text += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let headEnd = try #require(text.range(of: "\r\n\r\n"))
        let headLines = text[..<headEnd.lowerBound]
        #expect(headLines.contains("Content-Type: \(get.headers["content-type"] ?? "?")"))
        if path != "/metrics" && path != "/v1/info" { // these bodies change between calls
            #expect(headLines.contains("Content-Length: \(get.body.count)"))
        }
        #expect(text[headEnd.upperBound...].hasPrefix("HTTP/1.1 200 OK"), "the HEAD answer carried a body")
    }

    @Test func lengthMessagesSayWhatWasSent() throws {
        let server = try TestServer { $0.maxBodyBytes = 1 << 20 }
        defer { server.shutdown() }
        let (huge, _) = try exchange(
            server,
            Raw.postHead(
                "/v1/score", length: nil, type: "application/json",
                extra: "Content-Length: 9223372036854775808\r\n"))
        #expect(huge.status == 413)
        #expect(String(decoding: huge.body, as: UTF8.self).contains("Content-Length 9223372036854775808 exceeds"))

        let (overflow, closed) = try exchange(
            server,
            Raw.postHead(
                "/v1/score", length: nil, type: "application/json",
                extra: "Transfer-Encoding: chunked\r\n") + "fffffffffffffffffff\r\n")
        #expect(overflow.status == 400 && closed)
        #expect(String(decoding: overflow.body, as: UTF8.self).contains("chunk size"))
    }

    @Test("a chunk announcing more than the limit is refused when announced")
    func chunkOverLimit() throws {
        let server = try TestServer { $0.maxBodyBytes = 1 << 20 }
        defer { server.shutdown() }
        let raw = try server.raw(timeout: 5)
        // The chunk's data never comes: the answer must not wait for it.
        try raw.send(
            Raw.postHead("/v1/score", length: nil, type: "application/json", extra: "Transfer-Encoding: chunked\r\n")
                + "10\r\n{\"audio_scores\":\r\n200000\r\n")
        let response = try raw.readResponse()
        #expect(response.status == 413 && response.errorCode == "body_too_large" && response.closes)
        #expect(String(decoding: response.body, as: UTF8.self).contains("a chunk of 2097152 bytes"))
    }
}
