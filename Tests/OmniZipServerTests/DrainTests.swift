import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

@Suite("Graceful shutdown")
struct DrainTests {
    @Test func stopFinishesInFlightWorkAndRefusesNewConnections() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            let idle = try server.raw()
            try idle.send(Raw.get("/livez"))
            #expect(try idle.readResponse().status == 200)

            let busy = try server.raw()
            let request = Raw.post("/v1/compress", body)
            try busy.send(Array(request.dropLast(10)))
            #expect(server.waitForInflight(1))
            server.server.stop()

            #expect(throws: RawClient.Failure.self) { try server.raw() }
            #expect(idle.closedByPeer(), "idle connections close (after the drain grace)")
            // The in-flight request completes; a request pipelined behind it (in the same small
            // segment, so the server has parsed it before the compression ends) sees the drain.
            try busy.send(Array(request.suffix(10)) + Array(Raw.get("/readyz").utf8))
            let finished = try busy.readResponse()
            #expect(finished.status == 200 && !finished.closes)
            let ready = try busy.readResponse()
            #expect(ready.status == 503 && ready.errorCode == "draining" && ready.closes)
            #expect(busy.closedByPeer())
            server.server.waitUntilStopped()
        }
    }

    @Test func newWorkWhileDrainingGets503() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try TestServer()
            let busy = try server.raw()
            let request = Raw.post("/v1/compress", body)
            try busy.send(Array(request.dropLast(10)))
            #expect(server.waitForInflight(1))
            server.server.stop()
            try busy.send(Array(request.suffix(10)) + Array(Raw.postHead("/v1/score", length: body.count).utf8))
            #expect(try busy.readResponse().status == 200)
            let refused = try busy.readResponse()
            #expect(refused.status == 503 && refused.errorCode == "draining" && refused.closes)
            server.server.waitUntilStopped()
        }
    }
}
