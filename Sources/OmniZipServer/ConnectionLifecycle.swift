/// When a connection times out, lingers and closes: a value type driven by the loop's events,
/// which answers with what to do. It holds no socket and reads the time only from its clock,
/// so every rule here is tested with a manual clock (ConnectionLifecycleTests).
///
/// One timer serves every deadline: idle keep-alive, the whole-request timeout, the upload-rate
/// check, the drain grace and the linger after the last response.
struct ConnectionLifecycle<C: Clock> where C.Duration == Duration {
    struct Limits: Equatable {
        var idleTimeout: Duration
        var requestTimeout: Duration
        var lingerTimeout: Duration
        /// How long an idle connection stays open after a drain began, so a request already on
        /// the wire is answered (with `Connection: close`) instead of reset.
        var drainGrace: Duration
        /// Bytes per second a body must average once `uploadGrace` has passed since its first
        /// byte; 0 turns the check off.
        var minUploadRate: Int
        var uploadGrace: Duration
    }

    enum Phase: Equatable { case open, lingering, closed }

    enum Action: Equatable {
        case none
        case armTimer(C.Instant)
        case disarmTimer
        /// Answer the request being received with 408 and this message, then close.
        case timeOut(String)
        case close
    }

    let limits: Limits
    let clock: C
    private(set) var phase = Phase.open
    private(set) var draining = false
    /// Requests received (or refused) whose responses are not written yet.
    private(set) var pending = 0
    private var receiving: Receiving?

    private struct Receiving {
        var startedAt: C.Instant
        var bodyStartedAt: C.Instant?
        var bodyBytes = 0
    }

    init(limits: Limits, clock: C) {
        self.limits = limits
        self.clock = clock
    }

    var isIdle: Bool { pending == 0 && receiving == nil }
    var isReceiving: Bool { receiving != nil }

    mutating func opened() -> Action {
        .armTimer(clock.now.advanced(by: limits.idleTimeout))
    }

    /// The first byte of a request.
    mutating func requestStarted() -> Action {
        guard phase == .open else { return .none }
        let now = clock.now
        receiving = Receiving(startedAt: now)
        pending += 1
        return .armTimer(nextCheck(now))
    }

    /// Body bytes arrived. The first ones start the upload-rate clock.
    mutating func bodyReceived(_ bytes: Int) -> Action {
        guard phase == .open, receiving != nil else { return .none }
        receiving!.bodyBytes += bytes
        guard receiving!.bodyStartedAt == nil else { return .none }
        let now = clock.now
        receiving!.bodyStartedAt = now
        return limits.minUploadRate > 0 ? .armTimer(nextCheck(now)) : .none
    }

    /// The request is complete, or was refused and nothing more of it is read. Its response is
    /// pending; no timer runs while a worker has it.
    mutating func requestEnded() -> Action {
        guard phase == .open, receiving != nil else { return .none }
        receiving = nil
        return .disarmTimer
    }

    /// A response went out. `closing`: it was the last one (Connection: close).
    mutating func responseSent(closing: Bool) -> Action {
        pending = max(0, pending - 1)
        guard phase == .open else { return .none }
        if closing {
            // Until the last response is flushed (a client that never reads it is bounded by
            // the idle timeout), then `shutdownCompleted` starts the linger proper.
            phase = .lingering
            receiving = nil
            return .armTimer(clock.now.advanced(by: max(limits.idleTimeout, limits.lingerTimeout)))
        }
        return isIdle ? armIdle() : .none
    }

    /// Our FIN went out after the last response: read and drop for the linger time, then close.
    mutating func shutdownCompleted() -> Action {
        phase == .lingering ? .armTimer(clock.now.advanced(by: limits.lingerTimeout)) : .none
    }

    /// A request in progress was dropped with its connection state (the peer went away).
    mutating func requestDropped() {
        if receiving != nil {
            receiving = nil
            pending = max(0, pending - 1)
        }
    }

    mutating func timerFired() -> Action {
        switch phase {
        case .closed:
            return .none
        case .lingering:
            return close()
        case .open:
            let now = clock.now
            if let r = receiving {
                if now >= r.startedAt.advanced(by: limits.requestTimeout) {
                    receiving = nil
                    return .timeOut("the request was not received completely within \(seconds(limits.requestTimeout)) s")
                }
                if let slow = tooSlow(r, now) {
                    receiving = nil
                    return .timeOut(slow)
                }
                return .armTimer(nextCheck(now))
            }
            return pending == 0 ? close() : .none
        }
    }

    /// Stop taking new work: an idle connection closes after the drain grace, a busy one after
    /// its last response (the caller marks that response `Connection: close`).
    mutating func drain() -> Action {
        guard !draining else { return .none }
        draining = true
        switch phase {
        case .closed: return .none
        case .lingering: return close()
        case .open: return isIdle ? .armTimer(clock.now.advanced(by: limits.drainGrace)) : .none
        }
    }

    /// The connection is closing (whoever decided it); false if it already was.
    mutating func closed() -> Bool {
        guard phase != .closed else { return false }
        phase = .closed
        receiving = nil
        return true
    }

    private func close() -> Action { phase == .closed ? .none : .close }

    // MARK: Rules

    private func armIdle() -> Action {
        .armTimer(clock.now.advanced(by: draining ? limits.drainGrace : limits.idleTimeout))
    }

    /// The earlier of the request deadline and the next upload-rate check.
    private func nextCheck(_ now: C.Instant) -> C.Instant {
        let deadline = receiving.map { $0.startedAt.advanced(by: limits.requestTimeout) } ?? now.advanced(by: limits.requestTimeout)
        guard limits.minUploadRate > 0, let started = receiving?.bodyStartedAt else { return deadline }
        let graceEnds = started.advanced(by: limits.uploadGrace)
        let check = max(graceEnds, now.advanced(by: .seconds(1)))
        return min(deadline, check)
    }

    /// Past the grace period, a body averaging less than the minimum rate is cut off. Headers
    /// are bounded by the request timeout alone.
    private func tooSlow(_ r: Receiving, _ now: C.Instant) -> String? {
        guard limits.minUploadRate > 0, let start = r.bodyStartedAt else { return nil }
        let elapsed = start.duration(to: now)
        guard elapsed >= limits.uploadGrace else { return nil }
        let rate = Double(r.bodyBytes) / max(seconds(elapsed), 1e-9)
        guard rate < Double(limits.minUploadRate) else { return nil }
        return "the request body arrived at \(Int(rate)) bytes/s, below the minimum of \(limits.minUploadRate) bytes/s"
    }

    private func seconds(_ d: Duration) -> Double {
        let (s, attoseconds) = d.components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
