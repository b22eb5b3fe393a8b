#if canImport(Glibc)
    import Glibc
#endif
import CUV
import Logging

/// Draining and stopping. SIGINT/SIGTERM (or `Server.stop`) closes the listeners, so new
/// connections are refused (libuv removes a Unix socket's file as it closes it); idle
/// connections close at once, busy ones after their last response (which then says
/// `Connection: close`); new compress/score requests on them get 503. When no connection and
/// no job is left, the last handles close and `uv_run` returns. A second signal exits at once
/// with status 130.
extension ServerLoop {
    func installSignal(_ signum: Int32) {
        let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        guard uv_signal_init(loop, handle) == 0 else {
            handle.deallocate()
            return
        }
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let status = uv_signal_start(
            handle,
            { handle, signum in
                guard let data = handle?.pointee.data else { return }
                Unmanaged<ServerLoop>.fromOpaque(data).takeUnretainedValue().signalled(signum)
            }, signum)
        signals.append(handle)
        if status != 0 { logger.warning("cannot watch signal \(signum): \(String(cString: uv_strerror(status)))") }
    }

    private func signalled(_ signum: Int32) {
        signalCount += 1
        if signalCount == 1 {
            logger.info("signal received, draining", metadata: ["signal": .stringConvertible(Int(signum))])
            beginDrain()
            maybeFinish()
        } else {
            logger.warning(
                "second signal, exiting at once", metadata: ["signal": .stringConvertible(Int(signum)), "exit_code": .stringConvertible(130)])
            StdoutWriter.shared.flush(timeout: 0.2)
            exit(130)
        }
    }

    /// Stop accepting; idle connections close now, busy ones after their last response.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        logger.info("draining", metadata: ["inflight": .stringConvertible(admission.admitted), "connections": .stringConvertible(connections.count)])
        for listener in listeners { listener.close() }
        listeners = []
        for connection in Array(connections.values) { connection.drain() }
    }

    func maybeFinish() {
        guard draining, !finished, connections.isEmpty, scheduler.isIdle else { return }
        finished = true
        logger.info("stopped")
        completions.close()
        readTurns.close()
        for handle in signals {
            uv_signal_stop(handle)
            uv_close(handle.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
        }
        signals = []
    }
}
