import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// `omnizip serve` and signals: SIGTERM drains, a second signal exits at once.
@Suite("omnizip serve: signals", .requires(OmniZipBinary.prerequisite))
struct ServeSignalTests {
    @Test func sigtermDrainsThenExitsZero() throws {
        let body = try Golden.smallest()
        let served = try ServedProcess(OmniZipBinary.url)
        let busy = try RawClient(port: served.port)
        let request = Raw.post("/v1/compress", body)
        try busy.send(Array(request.prefix(request.count / 2)))
        #expect(waitForInflight(1, port: served.port))
        kill(served.process.processIdentifier, SIGTERM)
        #expect(served.refusesConnections())
        try busy.send(Array(request.dropFirst(request.count / 2)))
        let response = try busy.readResponse()
        #expect(response.status == 200 && response.closes)
        #expect(served.exitStatus() == 0)
        // Every log line was flushed before the exit.
        for _ in 0..<100 where !served.text.lines.joined().contains(#""msg":"stopped""#) { usleep(10_000) }
        #expect(served.text.lines.joined().contains(#""msg":"stopped""#))
    }

    @Test func secondSignalExitsAtOnce() throws {
        let body = try Golden.smallest()
        let served = try ServedProcess(OmniZipBinary.url)
        let busy = try RawClient(port: served.port)
        try busy.send(Array(Raw.post("/v1/compress", body).prefix(Raw.postHead("/v1/compress", length: body.count).utf8.count + 10)))
        #expect(waitForInflight(1, port: served.port))
        kill(served.process.processIdentifier, SIGTERM)
        #expect(served.refusesConnections())
        #expect(served.process.isRunning, "still draining the held request")
        kill(served.process.processIdentifier, SIGINT)
        #expect(served.exitStatus() == 130)
    }
}
