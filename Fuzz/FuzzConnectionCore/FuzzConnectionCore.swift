@testable import OmniZipServer

#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer target: the connection's protocol core, bytes in and actions out, with no socket
/// and no thread. The input's first byte seeds how the rest is split into reads, and which
/// reads carry descriptors as a Unix socket would (sealed or unsealed memfds holding the read's
/// bytes, /dev/null, a pipe); the peer then closes. Every complete request is answered at once
/// (the real router refuses what it refuses; a descriptor body is checked and mapped as the
/// server does). Checked: answers go out in request order, each once, nothing after the last
/// one closes the connection or after the close, every request is answered or abandoned, no
/// answered request still holds a descriptor, and every descriptor is closed in the end.
/// Limits as the server sets them by default, without the upload-rate check (no clock runs here).
private let limits: Connection.Core.Machine.Limits = {
    var limits = ServerConfiguration(workers: 1).connectionLimits
    limits.minUploadRate = 0
    return limits
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let handler = AnsweringHandler()
    let core = ConnectionCore(handler: handler, limits: limits, clock: ContinuousClock())
    var written: [Int] = []
    var closedAt: Int?
    var lastClosing = false
    var outputs = 0
    core.output = { [unowned core] output in
        outputs += 1
        if closedAt != nil { fatalError("output after close: \(output)") }
        switch output {
        case let .write(exchange, response, closing):
            if lastClosing { fatalError("a write after the closing one") }
            if let last = written.last, exchange.id <= last { fatalError("write \(exchange.id) after \(last)") }
            if exchange.response?.status != response.status { fatalError("write \(exchange.id) is not its exchange's answer") }
            written.append(exchange.id)
            lastClosing = closing
        case .close:
            closedAt = outputs
            _ = core.closed()
        default: break
        }
    }
    core.opened()
    var seed = UInt64(data[0]) &* 0x9E37_79B9_7F4A_7C15 | 1
    var offset = 1
    var descriptors: [Weak] = []
    while offset < size {
        seed ^= seed << 13
        seed ^= seed >> 7
        seed ^= seed << 17
        let n = min(size - offset, Int(seed % 64) + 1)
        let bytes = UnsafeRawBufferPointer(start: data + offset, count: n)
        let attached = (0..<Int((seed >> 32) % 8 == 0 ? (seed >> 40) % 3 + 1 : 0)).compactMap { i in
            descriptor(kind: Int((seed >> (44 + 2 * i)) % 4), holding: bytes)
        }
        descriptors += attached.map(Weak.init)
        core.received(bytes, descriptors: attached)
        offset += n
    }
    core.peerFinished()
    if closedAt == nil, core.phase == .lingering { core.shutdownCompleted() }
    let answered = Set(written), abandoned = Set(handler.abandoned)
    for exchange in handler.received where !answered.contains(exchange.id) && !abandoned.contains(exchange.id) && core.phase == .closed {
        fatalError("request \(exchange.id) neither answered nor abandoned")
    }
    for exchange in handler.received where exchange.response != nil && !exchange.descriptors.isEmpty {
        fatalError("request \(exchange.id) was answered still holding a descriptor")
    }
    _ = core.closed()
    handler.received = []
    if descriptors.contains(where: { $0.object != nil }) { fatalError("a descriptor outlived its connection") }
    return 0
}

/// Whether a descriptor object is gone (and its descriptor closed).
struct Weak {
    weak var object: ReceivedDescriptor?
}

/// 0: a sealed memfd holding `bytes`, 1: the same unsealed, 2: /dev/null, 3: a pipe's end.
private func descriptor(kind: Int, holding bytes: UnsafeRawBufferPointer) -> ReceivedDescriptor? {
    let fd: Int32
    switch kind {
    case 0, 1:
        fd = memfdCreate("fuzz", 0x3)
        guard fd >= 0 else { return nil }
        _ = write(fd, bytes.baseAddress, bytes.count)
        if kind == 0 { _ = fcntl(fd, 1024 + 9, Int32(0xF)) } // F_ADD_SEALS: seal, shrink, grow, write
    case 2:
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
    default:
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return nil }
        close(ends[1])
        fd = ends[0]
    }
    return fd >= 0 ? ReceivedDescriptor(taking: fd) : nil
}

/// Swift's Glibc does not declare memfd_create (it needs _GNU_SOURCE).
private let memfdCreate = unsafeBitCast(
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create"), to: (@convention(c) (UnsafePointer<CChar>, UInt32) -> Int32).self)

/// The server's side for the fuzzer: the real router, bodies allocated from the headers, every
/// complete request answered at once.
final class AnsweringHandler: RequestHandler {
    let maxBodyBytes = 1 << 20
    var received: [Exchange] = []
    var abandoned: [Int] = []

    func headersComplete(_ exchange: Exchange) {
        Router.check(exchange, limits: .init(maxBodyBytes: maxBodyBytes, draining: false))
        guard exchange.response == nil, exchange.endpoint?.isWork == true else { return }
        if SealedMemfd.attachBody(to: exchange) {
            // A mapped body is readable to its last byte.
            if let length = exchange.descriptorLength, let bytes = exchange.body?.bytes, let last = bytes.last,
                bytes.count != length || last != bytes[length - 1]
            {
                fatalError("mapping of the wrong size")
            }
            return
        }
        exchange.body = ByteBuffer(capacity: min(exchange.contentLength ?? 64 << 10, maxBodyBytes))
    }

    func reserveBody(_ exchange: Exchange, upTo bytes: Int) -> Bool { bytes <= maxBodyBytes }
    func bodyProgress(_ exchange: Exchange) {}

    func requestReceived(_ exchange: Exchange) {
        received.append(exchange)
        guard exchange.response == nil else { return }
        exchange.respond(HTTPResponse(status: 200, contentType: "text/plain", body: .bytes(Array(exchange.path.utf8))))
    }

    func abandon(_ exchange: Exchange) { abandoned.append(exchange.id) }
}

// SwiftPM links an executable with `main` pointing at `FuzzConnectionCore_main`; libFuzzer's
// driver is entered from here (its own `main` is then not linked in), as in the other targets.
@_cdecl("FuzzConnectionCore_main")
public func fuzzerEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt
