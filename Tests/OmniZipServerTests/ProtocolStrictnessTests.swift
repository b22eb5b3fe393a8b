import Foundation
import OmniZipTestSupport
import Testing

/// HTTP strictness over a real socket: what the shell writes for a refusal (400, then the
/// connection closes) and HEAD's bytes on the wire. Every syntax, method and length rule is
/// ProtocolStrictnessCoreTests', against the core with no socket.
@Suite("HTTP strictness over a socket")
struct ProtocolStrictnessTests {
    /// One raw request on a fresh connection: its response, and whether the server then closed.
    func exchange(_ server: TestServer, _ request: String) throws -> (RawClient.Response, closed: Bool) {
        let raw = try server.raw(timeout: 5)
        try raw.send(request)
        let response = try raw.readResponse()
        return (response, response.closes && raw.closedByPeer())
    }

    @Test(
        "whitespace before a header colon is refused (request smuggling), and the socket closes",
        arguments: [
            "POST /v1/score HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        ])
    func whitespaceBeforeColon(request: String) async throws {
        try await offPool {
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
    }

    @Test("HEAD works on every GET endpoint: the GET headers, no body", arguments: ["/livez", "/healthz", "/readyz", "/v1/info", "/metrics"])
    func head(path: String) async throws {
        try await offPool {
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
    }
}
