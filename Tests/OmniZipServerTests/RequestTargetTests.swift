import Testing
@testable import OmniZipServer

/// Request targets split by http_parser's URL parser: the forms RFC 9112 3.2 allows.
@Suite("Request target")
struct RequestTargetTests {
    func split(_ target: String) -> (String, String)? {
        HTTPParserBridge.splitTarget(Array(target.utf8)).map { ($0.path, String(decoding: $0.query, as: UTF8.self)) }
    }

    @Test func originForm() {
        #expect(split("/v1/compress?g=0.5&return=embeds")! == ("/v1/compress", "g=0.5&return=embeds"))
        #expect(split("/livez")! == ("/livez", ""))
        #expect(split("/livez#frag")! == ("/livez", ""), "a fragment is not part of the path")
    }

    @Test func absoluteForm() {
        #expect(split("http://sidecar:8080/v1/score?x=1")! == ("/v1/score", "x=1"))
        #expect(split("http://sidecar")! == ("/", ""))
    }

    @Test func asteriskForm() {
        #expect(split("*")! == ("*", ""))
    }

    @Test func notAURL() {
        #expect(split("v1/compress") == nil)
        #expect(split("") == nil)
    }
}
