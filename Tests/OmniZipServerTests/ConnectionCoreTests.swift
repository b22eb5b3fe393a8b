import OmniZipCore
import Testing

@testable import OmniZipServer

/// The connection's protocol with no socket and no thread: bytes and a manual clock in, the
/// core's outputs and the exchanges' answers out.
@Suite("Connection core: bytes in, actions out")
struct ConnectionCoreTests {
    let harness = CoreHarness()
    var handler: FakeHandler { harness.handler }
    var core: CoreHarness.Core { harness.core }
    var clock: ManualClock { harness.clock }

    func send(_ text: String) { harness.send(text) }
    func writes() -> [String] { harness.writes() }

    @Test("pipelined requests are answered in request order, whatever order they finish in")
    func pipelining() {
        handler.answerAtOnce = false
        send("GET /livez HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/info HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(handler.received.map(\.id) == [0, 1, 2])
        handler.answer(handler.received[2])
        handler.answer(handler.received[1])
        #expect(writes() == [], "nothing goes out before the first answer")
        handler.answer(handler.received[0])
        #expect(writes() == ["write 0 200", "write 1 200", "write 2 200"])
    }

    @Test(
        "smuggling and framing problems are refused with 400 and the connection closes",
        arguments: [
            "POST /v1/score HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /v1/score HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "POST /v1/score HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /v1/score HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
            "GET /livez HTTP/1.1\r\nHost : t\r\n\r\n",
        ])
    func framing(request: String) {
        send(request)
        let outputs = harness.take()
        #expect(outputs.contains("write 0 400 closing"), "\(outputs)")
        #expect(handler.received.isEmpty, "no request reached the server")
    }

    @Test("a method http_parser does not know is 501")
    func unknownMethod() {
        send("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(harness.take().contains("write 0 501 closing"))
    }

    @Test("100-continue: sent before the body; a refusal goes out instead, and the connection closes")
    func expectContinue() {
        send("POST /v1/budget HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(writes() == ["continue 0"])
        send("{}")
        #expect(writes() == ["write 0 200"])
        handler.maxBodyBytes = 10
        send("POST /v1/budget HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        #expect(writes() == ["write 1 413 closing"], "no 100 Continue for a body that is refused")
    }

    @Test("a request not received within the request timeout gets 408 and the connection closes")
    func requestTimeout() {
        send("POST /v1/budget HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
        clock.advance(by: .seconds(29))
        core.timerFired()
        #expect(writes() == [])
        clock.advance(by: .seconds(1))
        core.timerFired()
        #expect(writes() == ["write 0 408 closing"])
        #expect(handler.received.isEmpty)
    }

    @Test("a connection that never sends a byte closes after the first-byte timeout")
    func firstByteTimeout() {
        clock.advance(by: .seconds(10))
        core.timerFired()
        #expect(harness.take() == ["close"])
        #expect(core.phase == .closed)
    }

    @Test("drain: an idle connection closes after the grace; a busy one answers with Connection: close")
    func drain() {
        handler.answerAtOnce = false
        send("GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
        core.drain()
        handler.answer(handler.received[0])
        #expect(harness.take().contains("write 0 200 closing"))
    }

    @Test("the peer leaving mid-request abandons it; answered ones are not")
    func peerLeaves() {
        send("GET /livez HTTP/1.1\r\nHost: t\r\n\r\nPOST /v1/budget HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n123")
        #expect(writes() == ["write 0 200"], "answered while the client was still there")
        core.peerFinished()
        #expect(handler.abandoned == [1])
        #expect(harness.take().last == "close")
    }

    @Test("bytes split anywhere give the same answers")
    func splits() {
        let text = "POST /v1/budget HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
        for byte in text.utf8 { send(String(decoding: [byte], as: UTF8.self)) }
        #expect(writes() == ["write 0 200", "write 1 200"])
        #expect(handler.received.map(\.path) == ["/v1/budget", "/livez"])
    }
}
