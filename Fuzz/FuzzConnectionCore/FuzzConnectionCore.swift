@testable import OmniZipServer

/// libFuzzer target: the connection's protocol core, bytes in and actions out, with no socket
/// and no thread. The input's first byte seeds how the rest is split into reads; the peer then
/// closes. Every complete request is answered at once (the real router refuses what it
/// refuses). Checked: answers go out in request order, each once, nothing after the last one
/// closes the connection or after the close, and every request is answered or abandoned.
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
    while offset < size {
        seed ^= seed << 13
        seed ^= seed >> 7
        seed ^= seed << 17
        let n = min(size - offset, Int(seed % 64) + 1)
        core.received(UnsafeRawBufferPointer(start: data + offset, count: n))
        offset += n
    }
    core.peerFinished()
    if closedAt == nil, core.phase == .lingering { core.shutdownCompleted() }
    let answered = Set(written), abandoned = Set(handler.abandoned)
    for exchange in handler.received where !answered.contains(exchange.id) && !abandoned.contains(exchange.id) && core.phase == .closed {
        fatalError("request \(exchange.id) neither answered nor abandoned")
    }
    _ = core.closed()
    return 0
}

/// The server's side for the fuzzer: the real router, bodies allocated from the headers, every
/// complete request answered at once.
final class AnsweringHandler: RequestHandler {
    let maxBodyBytes = 1 << 20
    var received: [Exchange] = []
    var abandoned: [Int] = []

    func headersComplete(_ exchange: Exchange) {
        Router.check(exchange, limits: .init(maxBodyBytes: maxBodyBytes, draining: false))
        guard exchange.response == nil, exchange.endpoint?.isWork == true else { return }
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
