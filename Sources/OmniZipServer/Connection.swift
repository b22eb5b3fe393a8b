import OmniZipWire
import CHTTPParser
import CUV

/// One client socket. Loop thread only: every field is touched from libuv and http_parser
/// callbacks, which all run on the loop thread.
///
/// Requests are parsed as bytes arrive and queued as exchanges; their responses are written
/// strictly in queue order (a pipelined request may finish first, but waits its turn). The
/// connection stays registered with the server, which keeps it alive, until both its libuv
/// handles have been closed; their close callbacks free the memory.
final class Connection {
    unowned let server: ServerLoop
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    let timer: UnsafeMutablePointer<uv_timer_t>
    let parser: UnsafeMutablePointer<http_parser>

    var headers = HeaderAccumulator()
    /// Exchanges in request order; the last one may be `current`, still being received.
    var exchanges: [Exchange] = []
    var current: Exchange?
    /// Timers, lingering and closing: decided by a pure state machine, carried out here.
    var lifecycle: ConnectionLifecycle<ContinuousClock>
    /// No more requests are parsed; bytes still arriving are read and dropped.
    var parsingStopped = false
    var peerClosed = false
    /// Why a parser callback stopped the parser (it only reports "callback failed").
    var parseFailure: String?
    private var reading = false
    private var allowance = TurnAllowance()
    private var openHandles = 0

    var phase: ConnectionLifecycle<ContinuousClock>.Phase { lifecycle.phase }

    init?(server: ServerLoop) {
        self.server = server
        lifecycle = ConnectionLifecycle(limits: server.configuration.lifecycleLimits, clock: ContinuousClock())
        tcp = .allocate(capacity: 1)
        timer = .allocate(capacity: 1)
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        guard uv_tcp_init(server.loop, tcp) == 0 else {
            tcp.deallocate()
            timer.deallocate()
            parser.deallocate()
            return nil
        }
        openHandles = 1
        if uv_timer_init(server.loop, timer) == 0 { openHandles = 2 }
        let me = Unmanaged.passUnretained(self).toOpaque()
        tcp.pointee.data = me
        timer.pointee.data = me
        parser.pointee.data = me
        if openHandles < 2 { close() }
    }

    deinit {
        parser.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { tcp.streamRef }

    func start() {
        guard phase == .open else { return }
        _ = uv_tcp_nodelay(tcp, 1)
        apply(lifecycle.opened())
        updateReading()
    }

    // MARK: Reading

    func allocateReadBuffer(suggested: Int) -> uv_buf_t {
        let limit = allowance.remaining(in: server.readTurns.turn)
        guard limit > 0 else { return uv_buf_t(base: nil, len: 0) }
        // A large Content-Length body is read straight into its buffer: the kernel's copy is the
        // only one. http_parser then sees the body bytes in place and `append` just counts them.
        if phase == .open, !parsingStopped, let exchange = current, exchange.contentLength != nil, !exchange.discardBody,
           let body = exchange.body, let remaining = exchange.contentLength.map({ $0 - body.count }), remaining >= 64 << 10,
           let tail = body.tail.baseAddress, body.tail.count >= remaining {
            return uv_buf_t(base: tail.assumingMemoryBound(to: CChar.self), len: min(remaining, limit))
        }
        return uv_buf_t(base: server.readBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), len: min(server.readBuffer.count, limit))
    }

    func didRead(_ nread: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
        // Over this turn's budget: the socket stays readable and is read next turn.
        if nread == Int(UV_ENOBUFS.rawValue) { return }
        if nread > 0 { allowance.consumed(nread) }
        if nread < 0 {
            if nread == Int(UV_EOF.rawValue) { peerFinished() } else { close() }
            return
        }
        guard nread > 0, phase == .open, !parsingStopped, let base = buffer?.pointee.base else { return }
        let consumed = http_parser_execute(parser, HTTPParserBridge.settings, base, nread)
        let code = UInt32(parser.pointee.http_errno)
        if code == HPE_INVALID_METHOD.rawValue {
            notImplemented()
        } else if code != HPE_OK.rawValue, code != HPE_PAUSED.rawValue {
            malformed(parseFailure ?? HTTPParserBridge.errorDescription(code, chunked: UInt32(parser.pointee.flags) & F_CHUNKED.rawValue != 0))
        } else if code == HPE_OK.rawValue, consumed < nread, parser.pointee.upgrade != 0 {
            parsingStopped = true
            exchanges.last?.closeAfter = true
        }
        afterEvent()
    }

    private func peerFinished() {
        peerClosed = true
        stopReading()
        guard phase == .open else {
            close()
            return
        }
        if let partial = current {
            // Half a request and no more bytes coming: nothing to answer.
            current = nil
            exchanges.removeAll { $0 === partial }
            lifecycle.requestDropped()
            server.abandon(partial)
        }
        parsingStopped = true
        if exchanges.isEmpty { close() } else { afterEvent() }
    }

    private func malformed(_ description: String) {
        failedExchange().rejectError(400, "malformed_http", "malformed HTTP request: \(description)", close: true)
    }

    /// A method http_parser does not know: no resource here implements it (RFC 9110 15.6.2).
    private func notImplemented() {
        failedExchange().rejectError(501, "not_implemented", "the request method is not implemented; this server takes GET, HEAD and POST",
                                     close: true)
    }

    /// The exchange a parse failure is answered on: the partial one, or a new one. Nothing more is parsed.
    private func failedExchange() -> Exchange {
        let exchange: Exchange
        if let partial = current {
            exchange = partial
        } else {
            exchange = Exchange(startedAt: monotonicNanos())
            exchange.connection = self
            exchanges.append(exchange)
            apply(lifecycle.requestStarted())
        }
        current = nil
        parsingStopped = true
        apply(lifecycle.requestEnded())
        return exchange
    }

    func stopParsing() {
        parsingStopped = true
        http_parser_pause(parser, 1)
    }

    /// The request being received is refused before its end: nothing more is read of it.
    func endRequestEarly() {
        current = nil
        stopParsing()
        apply(lifecycle.requestEnded())
    }

    /// After anything that may have made a response ready or changed what to read.
    func afterEvent() {
        pump()
        updateReading()
    }

    private func updateReading() {
        switch phase {
        case .closed:
            return
        case .lingering:
            if peerClosed { stopReading() } else { startReading() }
        case .open:
            let backlog = exchanges.count >= server.configuration.maxPipelinedRequests
                || uv_stream_get_write_queue_size(stream) > 8 << 20
            if peerClosed || backlog { stopReading() } else { startReading() }
        }
    }

    private func startReading() {
        guard !reading else { return }
        let status = uv_read_start(stream, { handle, suggested, buffer in
            guard let handle, let buffer, let data = handle.pointee.data else { return }
            buffer.pointee = Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().allocateReadBuffer(suggested: suggested)
        }, { stream, nread, buffer in
            guard let stream, let data = stream.pointee.data else { return }
            Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().didRead(nread, buffer)
        })
        if status == 0 { reading = true } else { close() }
    }

    private func stopReading() {
        guard reading else { return }
        reading = false
        uv_read_stop(stream)
    }

    // MARK: Timer

    /// Carries out what the lifecycle decided.
    func apply(_ action: ConnectionLifecycle<ContinuousClock>.Action) {
        server.assertOnLoopThread()
        switch action {
        case .none:
            break
        case let .armTimer(deadline):
            let remaining = ContinuousClock.now.duration(to: deadline)
            let ms = UInt64(max(1, (Double(remaining.components.seconds) * 1000 + Double(remaining.components.attoseconds) * 1e-15).rounded(.up)))
            uv_timer_start(timer, { handle in
                guard let handle, let data = handle.pointee.data else { return }
                Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().timerFired()
            }, ms, 0)
        case .disarmTimer:
            uv_timer_stop(timer)
        case let .timeOut(message):
            guard let exchange = current else { return }
            endRequestEarly()
            exchange.rejectError(408, "request_timeout", message, close: true)
            afterEvent()
        case .close:
            close()
        }
    }

    private func timerFired() {
        apply(lifecycle.timerFired())
    }

    // MARK: Draining and closing

    /// The server is shutting down: an idle connection closes after the drain grace (a request
    /// already on the wire is still answered, with `Connection: close`), a busy one after its
    /// last response (see `pump`).
    func drain() {
        apply(lifecycle.drain())
    }

    /// After our last response: send FIN once it is flushed, keep reading and dropping what the
    /// client still sends, and close when it closes or the linger time is up. Closing at once
    /// could reset the connection and destroy the response before the client reads it.
    func beginLinger() {
        parsingStopped = true
        for exchange in exchanges { server.abandon(exchange) }
        exchanges = []
        current = nil
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_shutdown(request, stream) { request, status in
            guard let request else { return }
            let connection = Unmanaged<Connection>.fromOpaque(request.pointee.data).takeRetainedValue()
            request.deallocate()
            if status < 0 || connection.peerClosed {
                connection.close()
            } else {
                connection.apply(connection.lifecycle.shutdownCompleted())
            }
        }
        guard status == 0 else {
            Unmanaged<Connection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return
        }
        updateReading()
    }

    func close() {
        guard lifecycle.closed() else { return }
        stopReading()
        for exchange in exchanges { server.abandon(exchange) }
        exchanges = []
        current = nil
        if openHandles == 2 { uv_timer_stop(timer) }
        let handles = [tcp.handleRef] + (openHandles == 2 ? [timer.handleRef] : [])
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
        tcp.deallocate()
        timer.deallocate()
        server.connectionClosed(self)
    }
}
