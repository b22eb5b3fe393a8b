import OmniZipCore
import Testing

@testable import OmniZipServer

/// A server side for the core: the real router, bodies allocated from the headers, every
/// complete request answered with 200 and its path (or held, for the test to answer).
final class FakeHandler: RequestHandler {
    var maxBodyBytes = 1 << 20
    var answerAtOnce = true
    private(set) var received: [Exchange] = []
    private(set) var abandoned: [Int] = []
    /// Per exchange id: how many descriptors its head came with.
    private(set) var descriptorsAtHead: [Int: Int] = [:]

    func headersComplete(_ exchange: Exchange) {
        descriptorsAtHead[exchange.id] = exchange.descriptors.count
        Router.check(exchange, limits: .init(maxBodyBytes: maxBodyBytes, draining: false))
        guard exchange.response == nil, exchange.endpoint?.isWork == true else { return }
        exchange.body = ByteBuffer(capacity: exchange.contentLength ?? 64 << 10)
    }

    func reserveBody(_ exchange: Exchange, upTo bytes: Int) -> Bool { bytes <= maxBodyBytes }
    func bodyProgress(_ exchange: Exchange) {}

    func requestReceived(_ exchange: Exchange) {
        received.append(exchange)
        guard exchange.response == nil, answerAtOnce else { return }
        answer(exchange)
    }

    /// As the server does when a job comes back: the answer, then whatever it made writable.
    func answer(_ exchange: Exchange) {
        exchange.respond(HTTPResponse(status: 200, contentType: "text/plain", body: .bytes(Array(exchange.path.utf8))))
        exchange.owner?.afterEvent()
    }

    func abandon(_ exchange: Exchange) { abandoned.append(exchange.id) }
}

/// One connection's core with a manual clock and a fake server: bytes in, the outputs and the
/// answers out. What the loopback tests need a socket and a server thread for, without either.
final class CoreHarness {
    typealias Core = ConnectionCore<ManualClock>

    /// One write the core asked for.
    struct Written {
        let id: Int
        let status: Int
        let closing: Bool
        let errorCode: String?
        let message: String
    }

    let clock = ManualClock()
    let handler = FakeHandler()
    let core: Core
    /// Every output so far, as short strings: "write 0 200", "continue 0", "arm 30", "close".
    private(set) var outputs: [String] = []
    private(set) var written: [Written] = []

    init(maxBodyBytes: Int = 1 << 20) {
        let limits = Core.Machine.Limits(
            idleTimeout: .seconds(60), requestTimeout: .seconds(30), lingerTimeout: .seconds(2), drainGrace: .seconds(1),
            minUploadRate: 0, uploadGrace: .seconds(5), maxPipelined: 16, firstByteTimeout: .seconds(10))
        handler.maxBodyBytes = maxBodyBytes
        core = Core(handler: handler, limits: limits, clock: clock)
        core.output = { [unowned self] in record($0) }
        core.opened()
        outputs = []
    }

    private func record(_ output: Core.Output) {
        switch output {
        case .startReading: outputs.append("read")
        case .stopReading: outputs.append("stop reading")
        case let .armTimer(deadline): outputs.append("arm \((deadline.offset - clock.now.offset).components.seconds)")
        case .disarmTimer: outputs.append("disarm")
        case let .sendContinue(exchange): outputs.append("continue \(exchange.id)")
        case let .write(exchange, response, closing):
            outputs.append("write \(exchange.id) \(response.status)\(closing ? " closing" : "")")
            var message = ""
            if case let .bytes(bytes) = response.body { message = String(decoding: bytes, as: UTF8.self) }
            written.append(
                Written(id: exchange.id, status: response.status, closing: closing, errorCode: response.errorCode?.rawValue, message: message))
        case .shutdown: outputs.append("shutdown")
        case .close:
            outputs.append("close")
            _ = core.closed()
        }
    }

    func send(_ text: String, descriptors: [ReceivedDescriptor] = []) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { core.received(UnsafeRawBufferPointer($0), descriptors: descriptors) }
    }

    /// The outputs since the last call.
    func take() -> [String] {
        defer { outputs = [] }
        return outputs
    }

    /// The writes and 100 Continues since the last `take`.
    func writes() -> [String] { take().filter { $0.hasPrefix("write") || $0.hasPrefix("continue") } }
}
