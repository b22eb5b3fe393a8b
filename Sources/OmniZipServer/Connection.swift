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
    enum Phase { case open, lingering, closing }
    enum TimerMode { case none, idle, request, linger }

    unowned let server: ServerLoop
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    let timer: UnsafeMutablePointer<uv_timer_t>
    let parser: UnsafeMutablePointer<http_parser>

    var headers = HeaderAccumulator()
    /// Exchanges in request order; the last one may be `current`, still being received.
    var exchanges: [Exchange] = []
    var current: Exchange?
    var phase = Phase.open
    /// No more requests are parsed; bytes still arriving are read and dropped.
    var parsingStopped = false
    var peerClosed = false
    /// Why a parser callback stopped the parser (it only reports "callback failed").
    var parseFailure: String?
    private var reading = false
    private var timerMode = TimerMode.none
    private var openHandles = 0

    init?(server: ServerLoop) {
        self.server = server
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
        startTimer(.idle, seconds: server.configuration.idleTimeout)
        updateReading()
    }

    // MARK: Reading

    func allocateReadBuffer(suggested: Int) -> uv_buf_t {
        // A large Content-Length body is read straight into its buffer: the kernel's copy is the
        // only one. http_parser then sees the body bytes in place and `append` just counts them.
        if phase == .open, !parsingStopped, let exchange = current, exchange.contentLength != nil, !exchange.discardBody,
           let body = exchange.body, let remaining = exchange.contentLength.map({ $0 - body.count }), remaining >= 64 << 10,
           let tail = body.tail.baseAddress, body.tail.count >= remaining {
            return uv_buf_t(base: tail.assumingMemoryBound(to: CChar.self), len: remaining)
        }
        return uv_buf_t(base: server.readBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), len: server.readBuffer.count)
    }

    func didRead(_ nread: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
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
            server.abandon(partial)
        }
        parsingStopped = true
        stopTimer()
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
        }
        current = nil
        stopTimer()
        parsingStopped = true
        return exchange
    }

    func stopParsing() {
        parsingStopped = true
        http_parser_pause(parser, 1)
    }

    func requestTimedOut() {
        guard phase == .open, let exchange = current else { return }
        current = nil
        stopParsing()
        let seconds = server.configuration.requestTimeout
        exchange.rejectError(408, "request_timeout", "the request was not received completely within \(JSONText.number(seconds)) s", close: true)
        afterEvent()
    }

    /// After anything that may have made a response ready or changed what to read.
    func afterEvent() {
        pump()
        guard phase == .open else {
            updateReading()
            return
        }
        if current == nil {
            if exchanges.isEmpty {
                if timerMode != .idle { startTimer(.idle, seconds: server.configuration.idleTimeout) }
            } else if timerMode == .idle {
                stopTimer()
            }
        }
        updateReading()
    }

    private func updateReading() {
        switch phase {
        case .closing:
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

    func startTimer(_ mode: TimerMode, seconds: Double) {
        guard phase != .closing else { return }
        timerMode = mode
        let ms = UInt64(max(1, (seconds * 1000).rounded()))
        let status = uv_timer_start(timer, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().timerFired()
        }, ms, 0)
        if status != 0 { timerMode = .none }
    }

    func stopTimer() {
        timerMode = .none
        uv_timer_stop(timer)
    }

    private func timerFired() {
        let mode = timerMode
        timerMode = .none
        switch mode {
        case .idle, .linger: close()
        case .request: requestTimedOut()
        case .none: break
        }
    }

    // MARK: Draining and closing

    /// The server is shutting down: an idle connection closes now, a busy one after its last
    /// response (see `pump`).
    func drain() {
        switch phase {
        case .closing: return
        case .lingering: close()
        case .open: if exchanges.isEmpty && current == nil { close() }
        }
    }

    /// After our last response: send FIN once it is flushed, keep reading and dropping what the
    /// client still sends, and close when it closes or the linger time is up. Closing at once
    /// could reset the connection and destroy the response before the client reads it.
    func beginLinger() {
        guard phase == .open else { return }
        phase = .lingering
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
            } else if connection.phase == .lingering {
                connection.startTimer(.linger, seconds: connection.server.configuration.lingerTimeout)
            }
        }
        guard status == 0 else {
            Unmanaged<Connection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return
        }
        // Bounds a client that never reads our last response (the shutdown then never completes).
        startTimer(.linger, seconds: max(server.configuration.idleTimeout, server.configuration.lingerTimeout))
        updateReading()
    }

    func close() {
        guard phase != .closing else { return }
        phase = .closing
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
