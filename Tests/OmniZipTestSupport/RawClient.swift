import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A blocking POSIX socket speaking raw HTTP/1.1: for what an ordinary client hides
/// (pipelining, partial sends, stalls, 100-continue, resets, half-close).
public final class RawClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Response {
        public let status: Int
        /// Lower-cased names.
        public let headers: [String: String]
        public let body: [UInt8]

        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
        public var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
        public var closes: Bool { headers["connection"]?.lowercased() == "close" }
    }

    public let fd: Int32
    private var pending: [UInt8] = []
    private var isOpen = true

    /// `receiveBuffer` (bytes) keeps the receive window small, as a client that reads slowly or
    /// not at all looks to the server (set before connecting, so the window never grows).
    public init(port: Int, timeout: Double = 20, receiveBuffer: Int? = nil) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        fd = try Self.connected(family: AF_INET, to: &address, timeout: timeout, receiveBuffer: receiveBuffer)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Over a Unix-domain socket: the same requests, no TCP underneath.
    public init(unixSocket path: String, timeout: Double = 20) throws {
        var address = Self.unixAddress(path)
        fd = try Self.connected(family: AF_UNIX, to: &address, timeout: timeout)
    }

    public static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8.prefix($0.count - 1))) }
        return address
    }

    private static func connected<Address>(family: Int32, to address: inout Address, timeout: Double, receiveBuffer: Int? = nil) throws -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
        guard status == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(description: "connect: \(String(cString: strerror(code)))")
        }
        return fd
    }

    deinit { if isOpen { Glibc.close(fd) } }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(description: "send: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    /// Sends in pieces of `size` bytes with a pause between them.
    public func sendSlowly(_ bytes: [UInt8], pieces size: Int, pause: Double) throws {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            try send(Array(bytes[start..<end]))
            start = end
            if start < bytes.count { usleep(useconds_t(pause * 1e6)) }
        }
    }

    /// More bytes into `pending`; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                pending.append(contentsOf: chunk[0..<n])
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return false }
            throw Failure(description: "recv: \(String(cString: strerror(errno)))")
        }
    }

    /// One response (an interim `100 Continue` counts as one).
    public func readResponse() throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let range = pending.firstRange(of: separator) {
                headEnd = range.lowerBound
            } else if try !fill() {
                throw Failure(description: "connection closed before a response (\(pending.count) bytes pending)")
            }
        }
        let head = String(decoding: pending[0..<headEnd!], as: UTF8.self)
        pending.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line in \(head)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while pending.count < length {
            if try !fill() { throw Failure(description: "connection closed inside a body") }
        }
        let body = Array(pending[0..<length])
        pending.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    /// True when the server closes the connection (EOF or reset) within the receive timeout,
    /// with no further bytes.
    public func closedByPeer() -> Bool {
        guard pending.isEmpty else { return false }
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == ECONNRESET { return true }
            return false
        }
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset instead of FIN.
    public func reset() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
        isOpen = false
    }
}
