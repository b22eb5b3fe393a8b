import Testing

@testable import OmniZipServer

/// Request syntax a lenient parser would let through, and methods: what RFC 9110/9112 require,
/// decided by the protocol core (http_parser, the header checks, the router) with no socket.
/// ProtocolStrictnessTests keeps what needs one (HEAD's bytes on the wire, a socket smoke).
@Suite("HTTP strictness in the core: header syntax, methods, length messages")
struct ProtocolStrictnessCoreTests {
    /// One request on a fresh core: the write it caused (nil: none).
    func answer(_ request: String, maxBodyBytes: Int = 1 << 20) -> CoreHarness.Written? {
        let harness = CoreHarness(maxBodyBytes: maxBodyBytes)
        harness.send(request)
        return harness.written.first
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
        let written = try #require(answer(request))
        #expect(written.status == 400 && written.errorCode == "malformed_http" && written.closing)
        // A space reaches our check; http_parser itself refuses a tab there.
        #expect(written.message.contains("whitespace between a header name and its colon") || written.message.contains("invalid character in header"))
    }

    @Test(
        "a folded header line (obs-fold) is refused, Transfer-Encoding or not",
        arguments: [
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: one\r\n  two\r\n\r\n",
        ])
    func obsFold(request: String) throws {
        let written = try #require(answer(request))
        #expect(written.status == 400 && written.errorCode == "malformed_http" && written.closing)
        #expect(written.message.contains("obs-fold"))
    }

    @Test func aFoldSplitAcrossReadsIsRefusedAndASplitValueIsNot() throws {
        // The fold's line feed in one read, its blank and value in the next.
        let folded = CoreHarness()
        folded.send("GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: one\r\n")
        folded.send("  two\r\n\r\n")
        let refused = try #require(folded.written.first)
        #expect(refused.status == 400 && refused.message.contains("obs-fold"))
        // A value cut in the middle, and a line cut right after its line feed, are ordinary.
        let split = CoreHarness()
        for piece in ["GET /livez HTTP/1.1\r\nHost: t\r\nX-Note: o", "ne\r\n", "X-Other: two\r\n\r\n"] { split.send(piece) }
        #expect(split.written.map(\.status) == [200])
    }

    @Test(
        "chunked applied twice is refused",
        arguments: [
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, chunked\r\n",
        ])
    func chunkedTwice(lines: String) throws {
        let written = try #require(
            answer("POST /v1/score HTTP/1.1\r\nHost: t\r\n\(lines)Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
        #expect(written.status == 400 && written.errorCode == "malformed_http" && written.closing)
        #expect(written.message.contains("chunked transfer coding applied more than once"))
    }

    @Test("other header-name syntax errors are 400 too", arguments: ["X@Id: 1", "X(Id): 1", "X\"Id: 1"])
    func headerNameSyntax(field: String) throws {
        let written = try #require(answer("GET /livez HTTP/1.1\r\nHost: t\r\n\(field)\r\n\r\n"))
        #expect(written.status == 400 && written.errorCode == "malformed_http" && written.closing)
    }

    @Test func unknownMethodsAre501() throws {
        // Unknown to the parser: the connection cannot continue.
        let query = try #require(answer("QUERY /v1/score HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"))
        #expect(query.status == 501 && query.errorCode == "not_implemented" && query.closing)
        // Known, but no endpoint here takes it: 501, and the connection stays usable.
        let harness = CoreHarness()
        harness.send("PUT /v1/compress HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab" + "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(harness.written.map(\.status) == [501, 200])
        #expect(harness.written.first?.errorCode == "not_implemented" && harness.written.allSatisfy { !$0.closing })
    }

    @Test func wrongMethodForThePathIs405WithAllow() throws {
        let harness = CoreHarness()
        harness.send("GET /v1/budget HTTP/1.1\r\nHost: t\r\n\r\nPOST /readyz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        #expect(harness.written.map(\.status) == [405, 405])
        let allows = harness.handler.received.map { $0.response?.headers.first { $0.0 == "Allow" }?.1 }
        #expect(allows == ["POST", "GET, HEAD"])
    }

    @Test func lengthMessagesSayWhatWasSent() throws {
        let huge = try #require(
            answer(
                "POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 9223372036854775808\r\n\r\n",
                maxBodyBytes: 1 << 20))
        #expect(huge.status == 413 && huge.message.contains("Content-Length 9223372036854775808 exceeds"))
        let overflow = try #require(
            answer(
                "POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n"))
        #expect(overflow.status == 400 && overflow.closing && overflow.message.contains("chunk size"))
    }

    @Test("a chunk announcing more than the limit is refused when announced")
    func chunkOverLimit() throws {
        // The chunk's data never comes: the answer must not wait for it.
        let written = try #require(
            answer(
                "POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "10\r\n{\"audio_scores\":\r\n200000\r\n", maxBodyBytes: 1 << 20))
        #expect(written.status == 413 && written.errorCode == "body_too_large" && written.closing)
        #expect(written.message.contains("a chunk of 2097152 bytes"))
    }
}
