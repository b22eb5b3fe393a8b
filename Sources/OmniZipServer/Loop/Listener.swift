#if canImport(Glibc)
    import Glibc
#endif
import CUV

/// A listening socket: TCP, or Unix-domain (a libuv pipe). Loop thread only; the handle's
/// `data` points at the server loop, which outlives it.
final class Listener {
    typealias OnConnection = @convention(c) (UnsafeMutablePointer<uv_stream_t>?, Int32) -> Void

    let stream: UnsafeMutablePointer<uv_stream_t>
    /// What accepted connections are: each gets a client handle of the same kind.
    let transport: ClientSocket.Transport
    /// The bound TCP port; nil for a Unix socket.
    let port: Int?
    private var closed = false

    private init(stream: UnsafeMutablePointer<uv_stream_t>, transport: ClientSocket.Transport, port: Int?) {
        self.stream = stream
        self.transport = transport
        self.port = port
    }

    static func tcp(
        loop: UnsafeMutablePointer<uv_loop_t>, host: String, port: Int, owner: UnsafeMutableRawPointer,
        onConnection: OnConnection
    ) throws(ServerError) -> Listener {
        var address = sockaddr_storage()
        try resolve(host, port: port, into: &address)
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        guard uv_tcp_init(loop, tcp) == 0 else {
            tcp.deallocate()
            throw ServerError("cannot create the listening socket")
        }
        tcp.pointee.data = owner
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(tcp, $0, 0) }
        }
        var status = bound
        if status == 0 { status = uv_listen(tcp.streamRef, 1024, onConnection) }
        var actual = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        if status == 0 {
            status = withUnsafeMutablePointer(to: &actual) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(tcp, $0, &length) }
            }
        }
        guard status == 0 else {
            uv_close(tcp.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
            throw ServerError("cannot listen on \(host):\(port): \(String(cString: uv_strerror(status)))")
        }
        return Listener(stream: tcp.streamRef, transport: .tcp, port: Self.port(of: actual))
    }

    /// Binds `path` (replacing only a stale socket, see `UnixSocketPath`), sets its mode, then
    /// listens: no client can connect before the mode is in place. libuv unlinks the file when
    /// the handle closes (before closing the descriptor, so it never removes a successor's).
    static func unix(
        loop: UnsafeMutablePointer<uv_loop_t>, path: String, mode: UInt32, owner: UnsafeMutableRawPointer,
        onConnection: OnConnection
    ) throws(ServerError) -> Listener {
        // libuv would cut a longer path short and bind another file (embedders skip `resolve`).
        guard path.utf8.count <= ServerConfiguration.maxUnixSocketPathBytes else {
            throw ServerError("Unix socket path \(path) is longer than \(ServerConfiguration.maxUnixSocketPathBytes) bytes")
        }
        try UnixSocketPath.clearStale(path)
        let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        guard uv_pipe_init(loop, pipe, 0) == 0 else {
            pipe.deallocate()
            throw ServerError("cannot create the listening socket")
        }
        pipe.pointee.data = owner
        var status = uv_pipe_bind(pipe, path)
        var what = "bind"
        if status == 0, chmod(path, mode_t(mode)) != 0 {
            status = -errno
            what = "chmod"
        }
        if status == 0 {
            status = uv_listen(pipe.streamRef, 1024, onConnection)
            what = "listen on"
        }
        guard status == 0 else {
            uv_close(pipe.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
            throw ServerError("cannot \(what) Unix socket \(path): \(String(cString: uv_strerror(status)))")
        }
        return Listener(stream: pipe.streamRef, transport: .unix, port: nil)
    }

    func accept(into client: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        uv_accept(stream, client) == 0
    }

    /// Closes the socket at once (libuv closes the descriptor inside uv_close), so new
    /// connections are refused from here on.
    func close() {
        guard !closed else { return }
        closed = true
        uv_close(stream.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
    }

    /// IPv4 or IPv6 literals directly; names through getaddrinfo (blocking, but only at startup).
    private static func resolve(_ host: String, port: Int, into address: inout sockaddr_storage) throws(ServerError) {
        let ok4 = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) == 0 }
        }
        if ok4 { return }
        address = sockaddr_storage()
        let ok6 = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) == 0 }
        }
        if ok6 { return }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result, let found = first.pointee.ai_addr else {
            throw ServerError("cannot resolve host '\(host)'")
        }
        defer { freeaddrinfo(result) }
        withUnsafeMutableBytes(of: &address) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(start: found, count: min(Int(first.pointee.ai_addrlen), out.count)))
        }
    }

    private static func port(of address: sockaddr_storage) -> Int {
        var copy = address
        return withUnsafePointer(to: &copy) { pointer in
            if Int32(address.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }
}
