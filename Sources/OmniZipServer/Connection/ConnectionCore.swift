import CHTTPParser

/// What a connection's protocol core asks of the server: ServerLoop's request flow in
/// production (ServerLoop+Requests), a fake in the core's tests and its fuzz target.
protocol RequestHandler: AnyObject {
    var maxBodyBytes: Int { get }
    /// Headers are in: route and admit the request, or answer it (`Exchange.reject`).
    func headersComplete(_ exchange: Exchange)
    /// A chunked body outgrows its reservation; false refuses it.
    func reserveBody(_ exchange: Exchange, upTo bytes: Int) -> Bool
    func bodyProgress(_ exchange: Exchange)
    func requestReceived(_ exchange: Exchange)
    /// The request will never be answered (its connection went away).
    func abandon(_ exchange: Exchange)
}

/// Where an exchange's answer is reported: the core of the connection it came in on.
protocol ExchangeOwner: AnyObject {
    func responseReady(_ exchange: Exchange, close: Bool)
    /// After anything that may have made a response writable.
    func afterEvent()
}

/// One connection's protocol without a socket: bytes, timer and completion events in, I/O
/// actions out (`output`). It parses with http_parser, owns the state machine (and, through
/// it, every request's exchange) and carries out the machine's own actions itself: admission,
/// dropping, timeouts, pausing the parser. `Connection` is the libuv shell that carries out the
/// rest; the core's tests and fuzz target drive it with bytes and a manual clock.
///
/// Actions are queued and carried out one at a time, never from inside another: an event
/// raised while one is carried out (a refusal decided during admission) only queues more.
final class ConnectionCore<C: Clock>: ExchangeOwner where C.Duration == Duration {
    typealias Machine = ConnectionStateMachine<C, Exchange>

    /// What the shell does: read or not, the timer, writes in the order given, FIN, close.
    enum Output {
        case startReading
        case stopReading
        case armTimer(C.Instant)
        case disarmTimer
        case sendContinue(Exchange)
        case write(Exchange, HTTPResponse, closing: Bool)
        case shutdown
        case close
    }

    unowned let handler: any RequestHandler
    private(set) var machine: Machine
    let parser: UnsafeMutablePointer<http_parser>
    private let target: HTTPParserBridge.Target
    var headers = HeaderAccumulator()
    /// Why a parser callback stopped the parser (it only reports "callback failed").
    var parseFailure: String?
    /// The bytes http_parser is parsing now, and whether those before them ended at the start
    /// of a line: what tells a folded header line (see HeaderAccumulator.continuesFoldedLine).
    var readStart: UnsafeRawPointer?
    var readEndedAtLineStart = false
    /// Where the outputs go (set by the shell).
    var output: (Output) -> Void = { _ in }
    /// Response bytes queued in the shell's socket, for backpressure.
    var writeBacklog: () -> Int = { 0 }
    private var pending: [Machine.Action] = []
    /// Descriptors received and not yet handed to a head: the next head completed takes them.
    private var pendingDescriptors: [ReceivedDescriptor] = []
    private var performing = false

    init(handler: any RequestHandler, limits: Machine.Limits, clock: C) {
        self.handler = handler
        machine = Machine(limits: limits, clock: clock)
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        target = HTTPParserBridge.Target()
        target.core = self
        parser.pointee.data = Unmanaged.passUnretained(target).toOpaque()
    }

    deinit {
        parser.deallocate()
    }

    var phase: Machine.Phase { machine.phase }
    /// Opened and not a byte of a request since (what the server may close first).
    var silentSince: C.Instant? { machine.isSilent ? machine.openedAt : nil }
    /// The exchange still being received, whose bytes the parser callbacks fill in.
    var current: Exchange? { machine.receivingPayload }

    // MARK: Events from the shell

    func opened() { perform(machine.opened()) }

    /// Bytes read from the socket, and the descriptors that came with them. A Unix socket hands
    /// descriptors over with the last bytes of the read that carries them (it stops reading
    /// after them), so they belong to the head those bytes complete or leave unfinished.
    func received(_ bytes: UnsafeRawBufferPointer, descriptors: [ReceivedDescriptor] = []) {
        guard let base = bytes.baseAddress, !bytes.isEmpty, machine.isParsing else { return }
        if !descriptors.isEmpty, !take(descriptors) {
            afterEvent()
            return
        }
        readStart = base
        let consumed = http_parser_execute(parser, HTTPParserBridge.settings, base.assumingMemoryBound(to: CChar.self), bytes.count)
        readEndedAtLineStart = HeaderAccumulator.endsAtLineStart(UnsafeRawBufferPointer(rebasing: bytes[..<consumed]), before: readEndedAtLineStart)
        readStart = nil
        let code = UInt32(parser.pointee.http_errno)
        if code == HPE_INVALID_METHOD.rawValue {
            notImplemented()
        } else if code != HPE_OK.rawValue, code != HPE_PAUSED.rawValue {
            malformed(parseFailure ?? HTTPParserBridge.errorDescription(code, chunked: UInt32(parser.pointee.flags) & F_CHUNKED.rawValue != 0))
        } else if code == HPE_OK.rawValue, consumed < bytes.count, parser.pointee.upgrade != 0 {
            perform(machine.parsingEnded())
        }
        refuseStrayDescriptors()
        afterEvent()
    }

    /// A request has at most one descriptor: more fail it and close the connection (they are
    /// closed as they are dropped). False when the bytes are not to be parsed.
    private func take(_ descriptors: [ReceivedDescriptor]) -> Bool {
        pendingDescriptors += descriptors
        guard pendingDescriptors.count > 1 else { return true }
        let count = pendingDescriptors.count
        pendingDescriptors = []
        failedExchange()?.rejectError(400, .invalidDescriptor, "\(count) file descriptors came with one request; send exactly one", close: true)
        return false
    }

    /// Descriptors still unclaimed once their bytes are parsed, with no head left unfinished,
    /// came with a body or between requests: refused, and the connection closed.
    private func refuseStrayDescriptors() {
        guard !pendingDescriptors.isEmpty, current?.headersComplete != false else { return }
        pendingDescriptors = []
        failedExchange()?.rejectError(
            400, .invalidDescriptor, "a file descriptor came with bytes that were not a request's head; send it with the head",
            close: true)
    }

    /// The descriptors that came with the head just completed, handed to its exchange.
    func takePendingDescriptors() -> [ReceivedDescriptor] {
        defer { pendingDescriptors = [] }
        return pendingDescriptors
    }

    func peerFinished() { perform(machine.peerFinished()) }
    func timerFired() { perform(machine.timerFired()) }
    func shutdownCompleted() { perform(machine.shutdownCompleted()) }

    /// The server is shutting down: an idle connection closes after the drain grace (a request
    /// already on the wire is still answered, with `Connection: close`), a busy one after its
    /// last response.
    func drain() { perform(machine.drain()) }

    /// Memory for another request's body is short: an upload here that cannot finish in time
    /// gives its reservation back (see `ConnectionStateMachine.reclaimIfHopeless`). True if it did.
    func reclaimIfHopeless(minObserved: Duration) -> Bool {
        guard let actions = machine.reclaimIfHopeless(minObserved: minObserved) else { return false }
        perform(actions)
        return true
    }

    /// After anything that may have made a response writable or changed what to read.
    func afterEvent() {
        guard phase != .closed else { return }
        perform(machine.advance(writeBacklog: writeBacklog()))
    }

    /// The connection is closing, whoever decided it; false if it already was. Every request
    /// not answered yet goes back to the server as abandoned.
    func closed() -> Bool {
        guard let unanswered = machine.closed() else { return false }
        pendingDescriptors = []
        for exchange in unanswered { handler.abandon(exchange) }
        return true
    }

    /// Where the shell may read straight into a large Content-Length body (the kernel's copy is
    /// then the only one; the parser sees the bytes in place and the body only counts them).
    func directReadTarget() -> UnsafeMutableRawBufferPointer? {
        guard machine.isParsing, let exchange = current, let length = exchange.contentLength, !exchange.discardBody,
            let body = exchange.body, length - body.count >= 64 << 10, body.tail.count >= length - body.count
        else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: body.tail[..<(length - body.count)])
    }

    // MARK: Events from the request's side

    /// A new request's first byte (from the parser).
    func beginRequest() -> Exchange? {
        guard let (exchange, actions) = machine.requestStarted({ id in Exchange(id: id, startedAt: .now) }) else { return nil }
        exchange.owner = self
        perform(actions)
        return exchange
    }

    func headersComplete(_ exchange: Exchange, body: Machine.Body, continueAllowed: Bool) {
        perform(machine.headersComplete(exchange.id, body: body, continueAllowed: continueAllowed))
    }

    func bodyReceived(_ bytes: Int) { perform(machine.bodyReceived(bytes)) }

    func requestComplete(_ exchange: Exchange, closeAfter: Bool) {
        perform(machine.requestComplete(exchange.id, closeAfter: closeAfter))
    }

    /// `exchange.response` is set: the machine decides when it goes out.
    func responseReady(_ exchange: Exchange, close: Bool) {
        perform(machine.responseReady(exchange.id, close: close))
    }

    // MARK: Carrying out actions

    private func perform(_ actions: [Machine.Action]) {
        pending += actions
        guard !performing else { return }
        performing = true
        defer { performing = false }
        while !pending.isEmpty {
            let action = pending.removeFirst()
            // A write that failed may have closed the connection midway.
            if phase == .closed {
                pending = []
                return
            }
            carryOut(action)
        }
    }

    private func carryOut(_ action: Machine.Action) {
        switch action {
        case .startReading: output(.startReading)
        case .stopReading: output(.stopReading)
        case .stopParsing:
            // A parser already in error has stopped by itself (and may not be paused).
            if UInt32(parser.pointee.http_errno) == HPE_OK.rawValue { http_parser_pause(parser, 1) }
        case let .admit(exchange): handler.headersComplete(exchange)
        case let .sendContinue(exchange): output(.sendContinue(exchange))
        case let .write(exchange, closing):
            // Written only once answered, so the response is there.
            if let response = exchange.response { output(.write(exchange, response, closing: closing)) }
        case let .drop(exchange): handler.abandon(exchange)
        case let .armTimer(deadline): output(.armTimer(deadline))
        case .disarmTimer: output(.disarmTimer)
        case let .timeOut(exchange, message):
            exchange.rejectError(408, .requestTimeout, message, close: true)
            afterEvent()
        case .shutdown: output(.shutdown)
        case .close: output(.close)
        }
    }

    private func malformed(_ description: String) {
        failedExchange()?.rejectError(400, .malformedHTTP, "malformed HTTP request: \(description)", close: true)
    }

    /// A method http_parser does not know: no resource here implements it (RFC 9110 15.6.2).
    private func notImplemented() {
        failedExchange()?.rejectError(
            501, .notImplemented, "the request method is not implemented; this server takes GET, HEAD and POST", close: true)
    }

    /// The exchange a parse failure is answered on: the partial one, or a new one.
    private func failedExchange() -> Exchange? {
        current ?? beginRequest()
    }
}
