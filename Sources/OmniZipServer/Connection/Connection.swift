import OmniZipWire
import CHTTPParser
import CUV

/// One client socket: carries out what its `ConnectionStateMachine` decides. Loop thread only:
/// every field is touched from libuv and http_parser callbacks, which all run there.
///
/// Requests are parsed as bytes arrive; the machine owns their exchanges and says when each
/// response is written (strictly in request order), when to read, and when to close. Its
/// actions are queued and carried out one at a time, never from inside another: an event that
/// arrives while one is carried out (a refusal decided during admission) only queues more.
/// The connection stays registered with the server, which keeps it alive, until both its
/// libuv handles have been closed; their close callbacks free the memory.
final class Connection {
    typealias Machine = ConnectionStateMachine<ContinuousClock, Exchange>

    unowned let server: ServerLoop
    let socket: ClientSocket
    let timer: UnsafeMutablePointer<uv_timer_t>
    let parser: UnsafeMutablePointer<http_parser>

    var headers = HeaderAccumulator()
    private(set) var machine: Machine
    /// The exchange still being received, whose bytes the parser callbacks fill in.
    var current: Exchange? { machine.receivingPayload }
    private var pendingActions: [Machine.Action] = []
    private var performing = false
    /// Why a parser callback stopped the parser (it only reports "callback failed").
    var parseFailure: String?
    /// The bytes http_parser is parsing now, and whether those before them ended at the start
    /// of a line: what tells a folded header line (see HeaderAccumulator.continuesFoldedLine).
    var readStart: UnsafeRawPointer?
    var readEndedAtLineStart = false
    private var allowance = TurnAllowance()
    private var openHandles = 0

    var phase: Machine.Phase { machine.phase }
    /// Opened and not a byte of a request since (see ServerLoop.accept).
    var silentSince: ContinuousClock.Instant? { machine.isSilent ? machine.openedAt : nil }

    init?(server: ServerLoop, transport: ClientSocket.Transport) {
        self.server = server
        machine = Machine(limits: server.configuration.connectionLimits, clock: ContinuousClock())
        timer = .allocate(capacity: 1)
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        guard let socket = ClientSocket(loop: server.loop, transport: transport) else {
            timer.deallocate()
            parser.deallocate()
            return nil
        }
        self.socket = socket
        openHandles = 1
        if uv_timer_init(server.loop, timer) == 0 { openHandles = 2 }
        let me = Unmanaged.passUnretained(self).toOpaque()
        socket.stream.pointee.data = me
        timer.pointee.data = me
        parser.pointee.data = me
        if openHandles < 2 { close() }
    }

    deinit {
        parser.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { socket.stream }

    func start() {
        guard phase == .open else { return }
        socket.sendWithoutDelay()
        perform(machine.opened())
    }

    // MARK: Events into the machine

    /// A new request's first byte (from the parser).
    func beginRequest() -> Exchange? {
        let started = machine.requestStarted { id in Exchange(id: id, startedAt: .now) }
        guard let (exchange, actions) = started else { return nil }
        exchange.connection = self
        perform(actions)
        return exchange
    }

    func headersComplete(_ exchange: Exchange, body: Machine.Body, continueAllowed: Bool) {
        perform(machine.headersComplete(exchange.id, body: body, continueAllowed: continueAllowed))
    }

    func bodyReceived(_ bytes: Int) {
        perform(machine.bodyReceived(bytes))
    }

    func requestComplete(_ exchange: Exchange, closeAfter: Bool) {
        perform(machine.requestComplete(exchange.id, closeAfter: closeAfter))
    }

    /// `exchange.response` is set: the machine decides when it goes out.
    func responseReady(_ exchange: Exchange, close: Bool) {
        perform(machine.responseReady(exchange.id, close: close))
    }

    /// After anything that may have made a response writable or changed what to read.
    func afterEvent() {
        guard phase != .closed else { return }
        perform(machine.advance(writeBacklog: uv_stream_get_write_queue_size(stream)))
    }

    /// The server is shutting down: an idle connection closes after the drain grace (a request
    /// already on the wire is still answered, with `Connection: close`), a busy one after its
    /// last response.
    func drain() {
        perform(machine.drain())
    }

    // MARK: Carrying out actions

    /// Queues `actions` and, unless some are being carried out already (an event raised by an
    /// action), carries out the queue in order.
    private func perform(_ actions: [Machine.Action]) {
        server.assertOnLoopThread()
        pendingActions += actions
        guard !performing else { return }
        performing = true
        defer { performing = false }
        while !pendingActions.isEmpty {
            let action = pendingActions.removeFirst()
            // A write that failed may have closed the connection midway.
            if phase == .closed {
                pendingActions = []
                return
            }
            carryOut(action)
        }
    }

    private func carryOut(_ action: Machine.Action) {
        switch action {
        case .startReading: startReading()
        case .stopReading: uv_read_stop(stream)
        case .stopParsing:
            // A parser already in error has stopped by itself (and may not be paused).
            if UInt32(parser.pointee.http_errno) == HPE_OK.rawValue { http_parser_pause(parser, 1) }
        case let .admit(exchange): server.headersComplete(exchange)
        case let .sendContinue(exchange): sendContinue(for: exchange)
        case let .write(exchange, closing):
            if let response = exchange.response { send(response, for: exchange, closing: closing) }
        case let .drop(exchange): server.abandon(exchange)
        case let .armTimer(deadline): armTimer(deadline)
        case .disarmTimer: uv_timer_stop(timer)
        case let .timeOut(exchange, message):
            exchange.rejectError(408, .requestTimeout, message, close: true)
            afterEvent()
        case .shutdown: shutdown()
        case .close: close()
        }
    }

    private func armTimer(_ deadline: ContinuousClock.Instant) {
        let remaining = ContinuousClock.now.duration(to: deadline)
        let ms = UInt64(max(1, (Double(remaining.components.seconds) * 1000 + Double(remaining.components.attoseconds) * 1e-15).rounded(.up)))
        uv_timer_start(
            timer,
            { handle in
                guard let handle, let data = handle.pointee.data else { return }
                let connection = Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue()
                connection.perform(connection.machine.timerFired())
            }, ms, 0)
    }

    // MARK: Reading

    func allocateReadBuffer(suggested: Int) -> uv_buf_t {
        // What a lingering connection still sends is only dropped: it reads at the minimum rate.
        let share = phase == .lingering ? ReadTurns.minimumShare : server.readTurns.share
        let limit = allowance.remaining(in: server.readTurns.turn, share: share)
        guard limit > 0 else { return uv_buf_t(base: nil, len: 0) }
        // A large Content-Length body is read straight into its buffer: the kernel's copy is the
        // only one. http_parser then sees the body bytes in place and `append` just counts them.
        if machine.isParsing, let exchange = current, exchange.contentLength != nil, !exchange.discardBody,
            let body = exchange.body, let remaining = exchange.contentLength.map({ $0 - body.count }), remaining >= 64 << 10,
            let tail = body.tail.baseAddress, body.tail.count >= remaining
        {
            return uv_buf_t(base: tail.assumingMemoryBound(to: CChar.self), len: min(remaining, limit))
        }
        return uv_buf_t(base: server.readBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), len: min(server.readBuffer.count, limit))
    }

    func didRead(_ nread: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
        // Over this turn's budget: the socket stays readable and is read next turn.
        if nread == Int(UV_ENOBUFS.rawValue) { return }
        if nread > 0, allowance.consumed(nread), phase == .open { server.readTurns.connectionRead() }
        if nread < 0 {
            if nread == Int(UV_EOF.rawValue) { perform(machine.peerFinished()) } else { close() }
            return
        }
        guard nread > 0, machine.isParsing, let base = buffer?.pointee.base else { return }
        readStart = UnsafeRawPointer(base)
        let consumed = http_parser_execute(parser, HTTPParserBridge.settings, base, nread)
        readEndedAtLineStart = HeaderAccumulator.endsAtLineStart(
            UnsafeRawBufferPointer(start: base, count: consumed), before: readEndedAtLineStart)
        readStart = nil
        let code = UInt32(parser.pointee.http_errno)
        if code == HPE_INVALID_METHOD.rawValue {
            notImplemented()
        } else if code != HPE_OK.rawValue, code != HPE_PAUSED.rawValue {
            malformed(parseFailure ?? HTTPParserBridge.errorDescription(code, chunked: UInt32(parser.pointee.flags) & F_CHUNKED.rawValue != 0))
        } else if code == HPE_OK.rawValue, consumed < nread, parser.pointee.upgrade != 0 {
            perform(machine.parsingEnded())
        }
        afterEvent()
    }

    private func malformed(_ description: String) {
        failedExchange()?.rejectError(400, .malformedHTTP, "malformed HTTP request: \(description)", close: true)
    }

    /// A method http_parser does not know: no resource here implements it (RFC 9110 15.6.2).
    private func notImplemented() {
        failedExchange()?.rejectError(
            501, .notImplemented, "the request method is not implemented; this server takes GET, HEAD and POST",
            close: true)
    }

    /// The exchange a parse failure is answered on: the partial one, or a new one.
    private func failedExchange() -> Exchange? {
        current ?? beginRequest()
    }

    private func startReading() {
        let status = uv_read_start(
            stream,
            { handle, suggested, buffer in
                guard let handle, let buffer, let data = handle.pointee.data else { return }
                buffer.pointee = Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().allocateReadBuffer(suggested: suggested)
            },
            { stream, nread, buffer in
                guard let stream, let data = stream.pointee.data else { return }
                Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().didRead(nread, buffer)
            })
        if status != 0 { close() }
    }

    // MARK: Lingering and closing

    /// After our last response: send FIN once it is flushed, keep reading and dropping what the
    /// client still sends, and close when it closes or the linger time is up. Closing at once
    /// could reset the connection and destroy the response before the client reads it.
    private func shutdown() {
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, stream) { request, status in
            guard let request else { return }
            let connection = Unmanaged<Connection>.fromOpaque(request.pointee.data).takeRetainedValue()
            request.deallocate()
            if status < 0 { connection.close() } else { connection.perform(connection.machine.shutdownCompleted()) }
        }
        guard status == 0 else {
            Unmanaged<Connection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return
        }
    }

    func close() {
        guard let unanswered = machine.closed() else { return }
        uv_read_stop(stream)
        for exchange in unanswered { server.abandon(exchange) }
        if openHandles == 2 { uv_timer_stop(timer) }
        let handles = [socket.handle] + (openHandles == 2 ? [timer.handleRef] : [])
        for handle in handles {
            uv_close(handle) { handle in
                guard let handle, let data = handle.pointee.data else { return }
                Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().handleClosed()
            }
        }
    }

    private func handleClosed() {
        openHandles -= 1
        guard openHandles == 0 else { return }
        socket.deallocate()
        timer.deallocate()
        server.connectionClosed(self)
    }
}
