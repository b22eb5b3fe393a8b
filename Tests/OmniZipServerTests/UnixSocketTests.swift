import Foundation
import OmniZipServer
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// `--unix-socket`: the same HTTP over a Unix-domain socket, its file's mode, what may be
/// replaced at startup, removal at shutdown, and sharing the limits with TCP.
@Suite("Unix-domain socket listener")
struct UnixSocketTests {
    /// A server listening only on a fresh socket path.
    static func unixOnly(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        let path = TestServer.socketPath()
        return try TestServer {
            $0.unixSocket = path
            $0.listensOnTCP = false
            configure(&$0)
        }
    }

    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
    }

    static func permissions(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    /// A socket file nobody accepts on: what a killed server leaves behind.
    static func leaveStaleSocket(at path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = RawClient.unixAddress(path)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        try #require(status == 0 && fileType(path) == S_IFSOCK)
    }

    @Test func livezAndCompressOverTheSocketAlone() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try Self.unixOnly()
            defer { server.shutdown() }
            #expect(server.server.port == nil && server.port == 0, "no TCP listener")
            let raw = try server.rawUnix()
            try raw.send(Raw.get("/livez"))
            let live = try raw.readResponse()
            #expect(live.status == 200 && live.json?["status"] as? String == "ok")
            // Same connection (keep-alive): a compression, then a score.
            try raw.send(Raw.post("/v1/compress", body))
            let compressed = try raw.readResponse()
            #expect(compressed.status == 200 && compressed.headers["content-type"] == "application/octet-stream")
            #expect(try TensorBundle(compressed.body).metadata["kept"] != nil)
            try raw.send(Raw.post("/v1/score", body))
            let scored = try raw.readResponse()
            #expect(scored.status == 200 && scored.json?["kept_audio"] is Int)

            let line = try #require(server.logLines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(line["msg"] as? String == "listening")
            #expect(line["address"] as? String == "unix:\(server.server.configuration.unixSocket ?? "")")
            #expect(line["unix_socket_mode"] as? String == "0660")
            #expect(line["port"] == nil)
        }
    }

    @Test func theSocketFileGetsItsMode() async throws {
        try await offPool {
            let standard = try Self.unixOnly()
            defer { standard.shutdown() }
            let path = try #require(standard.server.configuration.unixSocket)
            #expect(Self.fileType(path) == S_IFSOCK)
            // 0660 is not what bind leaves under the usual umask (0755 under 022): it was set.
            #expect(Self.permissions(path) == 0o660)

            let strict = try Self.unixOnly { $0.unixSocketMode = 0o600 }
            defer { strict.shutdown() }
            let strictPath = try #require(strict.server.configuration.unixSocket)
            #expect(Self.permissions(strictPath) == 0o600)
            let owner = try strict.rawUnix()
            try owner.send(Raw.get("/livez"))
            #expect(try owner.readResponse().status == 200, "the owner may still connect")
        }
    }

    @Test func aStaleSocketIsReplaced() async throws {
        try await offPool {
            let path = TestServer.socketPath()
            defer { unlink(path) } // The server removes it; this is for a failed start.
            try Self.leaveStaleSocket(at: path)
            #expect(throws: RawClient.Failure.self, "nothing accepts on it") { try RawClient(unixSocket: path) }
            let server = try TestServer {
                $0.unixSocket = path; $0.listensOnTCP = false
            }
            defer { server.shutdown() }
            let raw = try server.rawUnix()
            try raw.send(Raw.get("/livez"))
            #expect(try raw.readResponse().status == 200)
        }
    }

    @Test func aRegularFileIsNeverReplaced() async throws {
        try await offPool {
            let path = TestServer.socketPath()
            defer { unlink(path) }
            try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: ServerError.self) {
                try TestServer {
                    $0.unixSocket = path; $0.listensOnTCP = false
                }
            }
            #expect(error?.description.contains("not a socket") == true, "\(String(describing: error))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("precious".utf8))
        }
    }

    @Test func aLiveSocketIsNeverReplaced() async throws {
        try await offPool {
            let first = try Self.unixOnly()
            defer { first.shutdown() }
            let path = try #require(first.server.configuration.unixSocket)
            let error = #expect(throws: ServerError.self) {
                try TestServer {
                    $0.unixSocket = path; $0.listensOnTCP = false
                }
            }
            #expect(error?.description.contains("another process is listening") == true, "\(String(describing: error))")
            // The first server still owns the path and answers on it.
            let raw = try first.rawUnix()
            try raw.send(Raw.get("/livez"))
            #expect(try raw.readResponse().status == 200)
        }
    }

    @Test func aMissingDirectoryIsNamed() async throws {
        try await offPool {
            let path = "/tmp/omnizip-no-such-dir-\(getpid())/omnizip.sock"
            let error = #expect(throws: ServerError.self) {
                try TestServer {
                    $0.unixSocket = path; $0.listensOnTCP = false
                }
            }
            #expect(
                error?.description.contains("/tmp/omnizip-no-such-dir-\(getpid()) is not an existing directory") == true,
                "\(String(describing: error))")
        }
    }

    @Test func theSocketFileIsRemovedWhenTheDrainStarts() async throws {
        try await offPool {
            let server = try Self.unixOnly()
            let path = try #require(server.server.configuration.unixSocket)
            let idle = try server.rawUnix()
            try idle.send(Raw.get("/livez"))
            #expect(try idle.readResponse().status == 200)
            #expect(Self.fileType(path) == S_IFSOCK)
            server.server.stop()
            #expect(Self.fileType(path) == nil, "gone as soon as new connections are refused")
            #expect(idle.closedByPeer(), "the open connection still drains normally")
            server.server.waitUntilStopped()
        }
    }

    @Test func tcpAndUnixTogetherShareTheConnectionLimit() async throws {
        try await offPool {
            let path = TestServer.socketPath()
            let server = try TestServer {
                $0.unixSocket = path; $0.maxConnections = 1
            }
            defer { server.shutdown() }
            let line = try #require(server.logLines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(line["port"] as? Int == server.port && line["unix_socket"] as? String == path)
            #expect(line["address"] as? String == "127.0.0.1:\(server.port)")

            let tcp = try server.raw()
            try tcp.send(Raw.get("/livez"))
            #expect(try tcp.readResponse().status == 200)
            let refused = try server.rawUnix(timeout: 5)
            #expect(refused.closedByPeer(), "the TCP connection holds the only slot")
            tcp.reset()
            // The slot frees once the server has seen the TCP close; then the socket is served.
            var served = false
            for _ in 0..<100 where !served {
                if let unix = try? server.rawUnix(timeout: 2), (try? unix.send(Raw.get("/livez"))) != nil,
                    (try? unix.readResponse())?.status == 200
                {
                    served = true
                } else {
                    usleep(20_000)
                }
            }
            #expect(served)
        }
    }
}
