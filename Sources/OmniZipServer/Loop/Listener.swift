#if canImport(Glibc)
import Glibc
#endif
import CUV

/// The listening socket. Loop thread only; `tcp.data` points at the server loop, which outlives it.
final class Listener {
    private let tcp: UnsafeMutablePointer<uv_tcp_t>
    let port: Int
    private var closed = false

    init(loop: UnsafeMutablePointer<uv_loop_t>, host: String, port: Int, owner: UnsafeMutableRawPointer,
         onConnection: @convention(c) (UnsafeMutablePointer<uv_stream_t>?, Int32) -> Void) throws(ServerError) {
        var address = sockaddr_storage()
        try Self.resolve(host, port: port, into: &address)
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
        self.tcp = tcp
        self.port = Self.port(of: actual)
    }

    func accept(into client: UnsafeMutablePointer<uv_stream_t>) -> Bool {
        uv_accept(tcp.streamRef, client) == 0
    }

    /// Closes the socket at once (libuv closes the descriptor inside uv_close), so new
    /// connections are refused from here on.
    func close() {
        guard !closed else { return }
        closed = true
        uv_close(tcp.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
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
