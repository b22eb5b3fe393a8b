import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// `omnizip serve` in a process of its own, so signals go to it and not to the test runner.
final class ServedProcess: Sendable {
    let process = Process()
    let output = Pipe()
    let port: Int
    /// Everything the server printed (read continuously, so its stdout never fills up).
    let text = LogBox()

    init(_ binary: URL, arguments: [String] = []) throws {
        process.executableURL = binary
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1"] + arguments
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

    /// True once connecting fails (the listener is closed), polling for up to 5 s.
    func refusesConnections() -> Bool {
        for _ in 0..<250 {
            if (try? RawClient(port: port)) == nil { return true }
            usleep(20_000)
        }
        return false
    }
}
