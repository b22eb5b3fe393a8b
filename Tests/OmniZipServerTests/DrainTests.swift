import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Graceful shutdown")
struct DrainTests {
    @Test func stopFinishesInFlightWorkAndRefusesNewConnections() throws {
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

    @Test func newWorkWhileDrainingGets503() throws {
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

    /// The real binary, so the signal goes to a process of its own.
    static var binary: URL? {
        let own = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        let candidate = own.deletingLastPathComponent().appendingPathComponent("omnizip")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }

    final class Served: Sendable {
        let process = Process()
        let output = Pipe()
        let port: Int
        /// Everything the server printed (read continuously, so its stdout never fills up).
        let text = LogBox()

        init(_ binary: URL) throws {
            process.executableURL = binary
            process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1"]
            process.environment = ["OMNIZIP_LOG_FORMAT": "json", "OMNIZIP_REQUEST_TIMEOUT": "20"]
            process.standardOutput = output
            let text = text
            output.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if !data.isEmpty { text.append(String(decoding: data, as: UTF8.self)) }
            }
            try process.run()
            // The startup line names the port.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, !text.lines.joined().contains("\n") { usleep(10_000) }
            let line = try #require(text.lines.joined().split(separator: "\n").first)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(json["msg"] as? String == "listening")
            port = try #require(json["port"] as? Int)
        }

        /// The exit status, or -1 after killing a process that did not exit within 20 s.
        func exitStatus() -> Int32 {
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return -1
            }
            return process.terminationStatus
        }
    }

    /// True once connecting fails (the listener is closed), polling for up to 5 s.
    static func refusesConnections(port: Int) -> Bool {
        for _ in 0..<250 {
            if (try? RawClient(port: port)) == nil { return true }
            usleep(20_000)
        }
        return false
    }

    @Test(.enabled(if: binary != nil, "the omnizip executable is not built next to the tests"))
    func sigtermDrainsThenExitsZero() throws {
        let body = try Golden.smallest()
        let served = try Served(try #require(Self.binary))
        let busy = try RawClient(port: served.port)
        let request = Raw.post("/v1/compress", body)
        try busy.send(Array(request.prefix(request.count / 2)))
        #expect(waitForInflight(1, port: served.port))
        kill(served.process.processIdentifier, SIGTERM)
        #expect(Self.refusesConnections(port: served.port))
        try busy.send(Array(request.dropFirst(request.count / 2)))
        let response = try busy.readResponse()
        #expect(response.status == 200 && response.closes)
        #expect(served.exitStatus() == 0)
        // Every log line was flushed before the exit.
        for _ in 0..<100 where !served.text.lines.joined().contains(#""msg":"stopped""#) { usleep(10_000) }
        #expect(served.text.lines.joined().contains(#""msg":"stopped""#))
    }

    @Test(.enabled(if: binary != nil, "the omnizip executable is not built next to the tests"))
    func secondSignalExitsAtOnce() throws {
        let body = try Golden.smallest()
        let served = try Served(try #require(Self.binary))
        let busy = try RawClient(port: served.port)
        try busy.send(Array(Raw.post("/v1/compress", body).prefix(Raw.postHead("/v1/compress", length: body.count).utf8.count + 10)))
        #expect(waitForInflight(1, port: served.port))
        kill(served.process.processIdentifier, SIGTERM)
        #expect(Self.refusesConnections(port: served.port))
        #expect(served.process.isRunning, "still draining the held request")
        kill(served.process.processIdentifier, SIGINT)
        #expect(served.exitStatus() == 130)
    }
}
