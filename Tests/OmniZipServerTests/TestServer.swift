import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Logging
import OmniZipServer
import OmniZipTestSupport
import Testing

/// A server on 127.0.0.1 and a free port (or a Unix socket), with signals left alone (they
/// are process-wide and tests run in parallel) and its log lines captured for inspection. No
/// minimum upload rate unless a test sets one: on a loaded machine (parallel suites, TSan) a
/// test client may legitimately upload slower than the production minimum.
final class TestServer: Sendable {
    let server: Server
    let port: Int

    init(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration(workers: 2)
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.handleSignals = false
        configuration.minUploadRate = 0
        // Every test ends with `shutdown`, which waits for the drain: idle keep-alive connections
        // (URLSession keeps them) would hold it, and a test thread, for the 1 s grace.
        configuration.drainGrace = 0.05
        configure(&configuration)
        let box = LogBox()
        let logger = Logger(label: "test") { _ in LineLogHandler(format: .json) { line in box.append(line) } }
        server = Server(configuration: configuration, logger: logger)
        port = try server.start()
        logBox = box
    }

    private let logBox: LogBox

    var logLines: [String] { logBox.lines }

    /// Graceful stop and wait (every test ends with this, so no loop thread outlives its test).
    func shutdown() {
        server.stop()
        server.waitUntilStopped()
    }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    func raw(timeout: Double = 20, receiveBuffer: Int? = nil) throws -> RawClient {
        try RawClient(port: port, timeout: timeout, receiveBuffer: receiveBuffer)
    }

    /// A raw client over the server's Unix socket (configured with `unixSocket`).
    func rawUnix(timeout: Double = 20) throws -> RawClient {
        try RawClient(unixSocket: try #require(server.configuration.unixSocket), timeout: timeout)
    }

    /// A fresh socket path for one test: short (sun_path holds 107 bytes) and unique across
    /// the tests running in parallel.
    static func socketPath() -> String {
        "/tmp/omnizip-test-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
    }

    /// Polls /v1/info until `count` requests are admitted (their headers were parsed).
    @discardableResult
    func waitForInflight(_ count: Int) -> Bool { OmniZipTestSupport.waitForInflight(count, port: port) }
}

/// An ordinary HTTP client: URLSession (libcurl underneath on Linux).
struct HTTPClient {
    let session: URLSession

    init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpMaximumConnectionsPerHost = 8
        session = URLSession(configuration: configuration)
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }

        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }

        /// The `error` object of an error body.
        var error: [String: Any]? { json?["error"] as? [String: Any] }
        var bytes: [UInt8] { [UInt8](body) }
    }

    func send(_ url: URL, method: String = "GET", body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        var headerMap: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headerMap["\(key)"] = "\(value)" }
        return Reply(status: http.statusCode, headers: headerMap, body: data)
    }

    func get(_ url: URL) async throws -> Reply { try await send(url) }

    func post(_ url: URL, _ body: [UInt8], contentType: String? = "application/octet-stream", headers: [String: String] = [:]) async throws -> Reply {
        var all = headers
        if let contentType { all["Content-Type"] = contentType }
        return try await send(url, method: "POST", body: Data(body), headers: all)
    }
}

/// Checks the error contract: JSON body, code, a message, the echoed request id.
func expectError(_ reply: HTTPClient.Reply, status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "status", sourceLocation: sourceLocation)
    #expect(reply.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    let error = reply.error
    #expect(error?["code"] as? String == code, "body: \(String(decoding: reply.body, as: UTF8.self))", sourceLocation: sourceLocation)
    let message = error?["message"] as? String ?? ""
    #expect(!message.isEmpty, sourceLocation: sourceLocation)
    #expect(error?["request_id"] as? String == reply.header("X-Request-Id"), sourceLocation: sourceLocation)
}

/// Runs a test's blocking part (raw sockets, sleeps, polling) on a thread of its own. Swift
/// Testing runs every test on the concurrency pool, which has one thread per core: two tests
/// blocked in `recv` would stall all the others.
func offPool(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
