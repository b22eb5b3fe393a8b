import OmniZipWire
import CUV

/// One client socket: the libuv shell around a `ConnectionCore`. It feeds the core what the
/// socket and timer say and carries out what the core answers (read or not, the timer, writes
/// in order, FIN, close); every protocol decision is the core's. Loop thread only.
///
/// The connection stays registered with the server, which keeps it alive, until both its libuv
/// handles have been closed; their close callbacks free the memory.
final class Connection {
    typealias Core = ConnectionCore<ContinuousClock>
    typealias Machine = Core.Machine

    unowned let server: ServerLoop
    let socket: ClientSocket
    let timer: UnsafeMutablePointer<uv_timer_t>
    let core: Core
    private var allowance = TurnAllowance()
    private var openHandles = 0

    var phase: Machine.Phase { core.phase }
    /// Opened and not a byte of a request since (see ServerLoop.accept).
    var silentSince: ContinuousClock.Instant? { core.silentSince }

    init?(server: ServerLoop, transport: ClientSocket.Transport) {
        self.server = server
        core = Core(handler: server, limits: server.configuration.connectionLimits, clock: ContinuousClock())
        timer = .allocate(capacity: 1)
        guard let socket = ClientSocket(loop: server.loop, transport: transport) else {
            timer.deallocate()
            return nil
        }
        self.socket = socket
        openHandles = 1
        if uv_timer_init(server.loop, timer) == 0 { openHandles = 2 }
        let me = Unmanaged.passUnretained(self).toOpaque()
        socket.stream.pointee.data = me
        timer.pointee.data = me
        core.output = { [unowned self] in carryOut($0) }
        core.writeBacklog = { [unowned self] in uv_stream_get_write_queue_size(stream) }
        if openHandles < 2 { close() }
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { socket.stream }

    func start() {
        guard phase == .open else { return }
        socket.sendWithoutDelay()
        core.opened()
    }

    /// After anything that may have made a response writable or changed what to read.
    func afterEvent() { core.afterEvent() }

    /// The server is shutting down (see `ConnectionCore.drain`).
    func drain() { core.drain() }

    // MARK: Carrying out the core's actions

    private func carryOut(_ output: Core.Output) {
        server.assertOnLoopThread()
        switch output {
        case .startReading: startReading()
        case .stopReading: uv_read_stop(stream)
        case let .armTimer(deadline): armTimer(deadline)
        case .disarmTimer: uv_timer_stop(timer)
        case let .sendContinue(exchange): sendContinue(for: exchange)
        case let .write(exchange, response, closing): send(response, for: exchange, closing: closing)
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
                Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue().core.timerFired()
            }, ms, 0)
    }

    // MARK: Reading

    func allocateReadBuffer(suggested: Int) -> uv_buf_t {
        // What a lingering connection still sends is only dropped: it reads at the minimum rate.
        let share = phase == .lingering ? ReadTurns.minimumShare : server.readTurns.share
        let limit = allowance.remaining(in: server.readTurns.turn, share: share)
        guard limit > 0 else { return uv_buf_t(base: nil, len: 0) }
        if let target = core.directReadTarget(), let base = target.baseAddress {
            return uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: min(target.count, limit))
        }
        return uv_buf_t(base: server.readBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), len: min(server.readBuffer.count, limit))
    }

    func didRead(_ nread: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
        // Over this turn's budget: the socket stays readable and is read next turn.
        if nread == Int(UV_ENOBUFS.rawValue) { return }
        if nread > 0, allowance.consumed(nread), phase == .open { server.readTurns.connectionRead() }
        if nread < 0 {
            if nread == Int(UV_EOF.rawValue) { core.peerFinished() } else { close() }
            return
        }
        guard nread > 0, let base = buffer?.pointee.base else { return }
        core.received(UnsafeRawBufferPointer(start: base, count: nread), descriptors: socket.takeDescriptors(loop: server.loop))
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
            if status < 0 { connection.close() } else { connection.core.shutdownCompleted() }
        }
        guard status == 0 else {
            Unmanaged<Connection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            close()
            return
        }
    }

    func close() {
        guard core.closed() else { return }
        uv_read_stop(stream)
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
