#if canImport(Glibc)
    import Glibc
#endif
import Logging
import OmniZipServer

/// libFuzzer target: the HTTP request path, bytes in and responses out, through the real
/// http_parser, connection state machine, router and endpoints of an in-process server on
/// loopback. Each input is sent on a fresh connection, the write side is closed, and the
/// answer is read to the end. The server must answer with well-formed status lines (or
/// close), never crash, and stay alive for the next input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = connectToServer()
    defer {
        // Close with a reset: tens of thousands of inputs a minute would otherwise leave as many
        // client ports in TIME_WAIT and run the loopback's ephemeral ports out.
        var reset = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
    var sent = 0
    while sent < size {
        let n = send(fd, data + sent, size - sent, Int32(MSG_NOSIGNAL))
        if n < 0, errno == EINTR { continue } // libFuzzer's timer signal
        if n <= 0 { break } // the server may close early (a refusal): that is an answer too
        sent += n
    }
    shutdown(fd, Int32(SHUT_WR))
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0, errno == EINTR { continue }
        if n <= 0 { break }
        reply.append(contentsOf: buffer[0..<n])
    }
    // Whatever came back starts with a status line.
    if !reply.isEmpty, !reply.starts(with: Array("HTTP/1.1 ".utf8)) {
        fatalError("response does not start with a status line: \(String(decoding: reply.prefix(80), as: UTF8.self))")
    }
    return 0
}

private let port: Int = {
    var configuration = ServerConfiguration(workers: 1)
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.handleSignals = false
    configuration.requestTimeout = 2
    configuration.maxBodyBytes = 1 << 20
    let server = Server(configuration: configuration, logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() })
    let port = try! server.start()
    retained = server
    return port
}()

nonisolated(unsafe) private var retained: Server?

private func connectToServer() -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if status != 0, errno == EINTR {
        // libFuzzer's timer signal interrupted it; the connection goes on: wait for it.
        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while poll(&ready, 1, 5000) < 0, errno == EINTR {}
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        status = error == 0 ? 0 : -1
        errno = error
    }
    precondition(status == 0, "the server stopped accepting connections: \(String(cString: strerror(errno)))")
    return fd
}

// SwiftPM links an executable with `main` pointing at `FuzzHTTP_main`; libFuzzer's driver is
// entered from here (its own `main` is then not linked in).
@_cdecl("FuzzHTTP_main")
public func fuzzerEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}

// C functions with pointer and int arguments only: the Swift and C conventions agree on x86-64
// and arm64 for these, so a silgen name is enough and no C shim target is needed.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt
