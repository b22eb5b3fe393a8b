/// Everything a connection decides, as a value type: it takes the loop's events (request
/// started, headers parsed, body bytes, request complete, response ready, write progress,
/// timer fired, peer closed, drain) and answers with actions (read or stop, hand the request
/// to admission, write a response or `100 Continue`, arm the timer, time out, shut down,
/// close). It holds no socket and reads the time only from its clock, so every rule is tested
/// with a manual clock (ConnectionStateMachineTests); `Connection` only carries actions out.
/// It owns the connection's requests: each queued request's `Payload` (the server's
/// `Exchange`) lives here and nowhere else, and actions hand it over.
///
/// Requests are queued in arrival order and answered strictly in that order. One timer serves
/// every deadline: the first byte of a new connection, idle keep-alive, the whole-request
/// timeout, the upload-rate check, the drain grace and the linger after the last response.
struct ConnectionStateMachine<C: Clock, Payload> where C.Duration == Duration {
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
        /// Requests parsed ahead of their responses before reading pauses.
        var maxPipelined: Int
        /// Response bytes queued in the socket before reading pauses (a client that sends but
        /// does not read).
        var maxWriteBacklog = 8 << 20
        /// How long a new connection may stay silent before its first request begins: far
        /// shorter than the keep-alive idle timeout, so sockets that never send cannot hold
        /// connection slots for a minute.
        var firstByteTimeout: Duration
    }

    enum Phase: Equatable { case open, lingering, closed }

    /// What a request's body looks like, from its headers (`length` is never 0: that is `none`).
    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
    }

    typealias RequestID = Int

    enum Action {
        case startReading
        case stopReading
        /// Stop feeding the parser; bytes still arriving are read and dropped.
        case stopParsing
        /// Headers are in: route the request and admit it (or answer it).
        case admit(Payload)
        case sendContinue(Payload)
        /// Write this request's response. `closing`: it is the last (Connection: close).
        case write(Payload, closing: Bool)
        /// Forget a request that will never be answered (the peer went away, or an earlier
        /// response closed the connection).
        case drop(Payload)
        case armTimer(C.Instant)
        case disarmTimer
        /// Answer this request, still being received, with 408 and this message, then close.
        case timeOut(Payload, String)
        /// After the last response: send FIN once it is flushed, keep reading and dropping.
        case shutdown
        case close
    }

    private struct Request {
        let id: RequestID
        let payload: Payload
        var body = Body.none
        var wantsContinue = false
        var continueSent = false
        var received = false
        var answered = false
        /// Written as soon as it is this request's turn, before its body is in.
        var early = false
        var closeAfter = false

        var writable: Bool { answered && (received || early) }
    }

    private struct Receiving {
        let id: RequestID
        var startedAt: C.Instant
        var bodyStartedAt: C.Instant?
        var bodyBytes = 0
        /// The Content-Length, when there is one.
        var declared: Int?
    }

    let limits: Limits
    let clock: C
    private(set) var phase = Phase.open
    private(set) var draining = false
    private(set) var peerClosed = false
    /// Whether bytes read go to the parser.
    private(set) var parsing = true
    private(set) var reading = false
    private var queue: [Request] = []
    private var receiving: Receiving?
    private var nextID = 0
    private var writeBacklog = 0

    init(limits: Limits, clock: C) {
        self.limits = limits
        self.clock = clock
    }

    /// A refused body up to this size is read and dropped, keeping the connection; a larger or
    /// chunked one is answered at once and the connection closed (after a bounded linger), so
    /// a refused upload costs neither side the transfer.
    static var smallBody: Int { 64 << 10 }

    var isIdle: Bool { queue.isEmpty }
    var isReceiving: Bool { receiving != nil }
    /// Requests whose responses are not written yet.
    var pending: Int { queue.count }
    /// The payload of the request whose bytes are arriving, if any: what the parser's callbacks
    /// fill in.
    var receivingPayload: Payload? { receiving.flatMap { r in queue.first { $0.id == r.id }?.payload } }
    var isParsing: Bool { phase == .open && parsing }
    /// When the connection opened, and whether it has sent nothing since: what the server
    /// may close first when it runs out of connection slots.
    private(set) var openedAt: C.Instant?
    var isSilent: Bool { phase == .open && openedAt != nil && nextID == 0 }

    // MARK: Events

    mutating func opened() -> [Action] {
        openedAt = clock.now
        return [.armTimer(clock.now.advanced(by: min(limits.firstByteTimeout, limits.idleTimeout)))] + readingActions()
    }

    /// The first byte of a request, whose payload `make` creates from its id; nil when no
    /// request may start (the connection is closing).
    mutating func requestStarted(_ make: (RequestID) -> Payload) -> (Payload, [Action])? {
        guard isParsing else { return nil }
        let now = clock.now
        let id = nextID
        nextID += 1
        let payload = make(id)
        queue.append(Request(id: id, payload: payload))
        receiving = Receiving(id: id, startedAt: now)
        return (payload, [.armTimer(nextCheck(now))])
    }

    /// Headers parsed. `continueAllowed`: the client sent `Expect: 100-continue` and speaks
    /// HTTP/1.1.
    mutating func headersComplete(_ id: RequestID, body: Body, continueAllowed: Bool) -> [Action] {
        guard let i = index(id) else { return [] }
        queue[i].body = body
        queue[i].wantsContinue = continueAllowed && body != .none
        if case let .length(n) = body, receiving?.id == id { receiving!.declared = n }
        return queue[i].answered ? [] : [.admit(queue[i].payload)]
    }

    /// Body bytes arrived. The first ones start the upload-rate clock.
    mutating func bodyReceived(_ bytes: Int) -> [Action] {
        guard phase == .open, receiving != nil else { return [] }
        receiving!.bodyBytes += bytes
        guard receiving!.bodyStartedAt == nil else { return [] }
        let now = clock.now
        receiving!.bodyStartedAt = now
        return limits.minUploadRate > 0 ? [.armTimer(nextCheck(now))] : []
    }

    /// The whole request is in. `closeAfter`: the client asked to close (or to switch
    /// protocols): answer this one and parse nothing more. No timer runs while a worker has it.
    mutating func requestComplete(_ id: RequestID, closeAfter: Bool) -> [Action] {
        guard let i = index(id) else { return [] }
        queue[i].received = true
        var actions: [Action] = []
        if closeAfter {
            queue[i].closeAfter = true
            actions += stopParsing()
        }
        if receiving?.id == id {
            receiving = nil
            actions.append(.disarmTimer)
        }
        return actions
    }

    /// The response is decided. Before the body is complete it goes out early (and the
    /// connection closes) when the client waits for 100-continue, the body is large or chunked,
    /// or `close` is asked for; otherwise after a small body, which is read and dropped so the
    /// connection is reused.
    mutating func responseReady(_ id: RequestID, close: Bool) -> [Action] {
        guard let i = index(id), !queue[i].answered else { return [] }
        queue[i].answered = true
        let r = queue[i]
        let largeBody =
            switch r.body {
            case .none: false
            case let .length(n): n > Self.smallBody
            case .chunked: true
            }
        guard close || (!r.received && r.body != .none && (r.wantsContinue || largeBody)) else { return [] }
        queue[i].early = true
        queue[i].closeAfter = true
        var actions = stopParsing()
        if receiving?.id == id {
            receiving = nil
            actions.append(.disarmTimer)
        }
        return actions
    }

    /// Bytes arrived that cannot be parsed any further (a protocol switch, a malformed request).
    mutating func parsingEnded() -> [Action] {
        if !queue.isEmpty { queue[queue.count - 1].closeAfter = true }
        return stopParsing()
    }

    /// After any event that may have made a response writable or changed what to read:
    /// the writes due, in request order, then whether to read. `writeBacklog`: bytes queued
    /// in the socket.
    mutating func advance(writeBacklog: Int) -> [Action] {
        self.writeBacklog = writeBacklog
        var actions: [Action] = []
        while phase == .open, let head = queue.first {
            if head.wantsContinue, !head.continueSent, !head.answered, !head.received {
                queue[0].continueSent = true
                actions.append(.sendContinue(head.payload))
                continue
            }
            guard head.writable else { break }
            queue.removeFirst()
            if receiving?.id == head.id { receiving = nil }
            let closing = head.closeAfter || (queue.isEmpty && (draining || peerClosed))
            actions.append(.write(head.payload, closing: closing))
            if closing {
                actions += linger()
                break
            }
            if queue.isEmpty { actions.append(armIdle()) }
        }
        return actions + readingActions()
    }

    /// The peer sent FIN. A request half received is dropped: nothing to answer.
    mutating func peerFinished() -> [Action] {
        peerClosed = true
        var actions = readingActions()
        guard phase == .open else { return actions + close() }
        if let partial = receiving, let i = index(partial.id) {
            receiving = nil
            actions.append(.drop(queue.remove(at: i).payload))
        }
        actions += stopParsing()
        return actions + (queue.isEmpty ? close() : advance(writeBacklog: writeBacklog))
    }

    /// Our FIN went out after the last response: read and drop for the linger time, then close.
    mutating func shutdownCompleted() -> [Action] {
        guard phase == .lingering else { return [] }
        return peerClosed ? close() : [.armTimer(clock.now.advanced(by: limits.lingerTimeout))]
    }

    mutating func timerFired() -> [Action] {
        switch phase {
        case .closed:
            return []
        case .lingering:
            return close()
        case .open:
            let now = clock.now
            if let r = receiving {
                var message: String?
                if now >= r.startedAt.advanced(by: limits.requestTimeout) {
                    message = "the request was not received completely within \(seconds(limits.requestTimeout)) s"
                } else {
                    message = tooSlow(r, now)
                }
                guard let message else { return [.armTimer(nextCheck(now))] }
                receiving = nil
                guard let i = index(r.id) else { return stopParsing() }
                return stopParsing() + [.timeOut(queue[i].payload, message)]
            }
            return queue.isEmpty ? close() : []
        }
    }

    /// Another request's body does not fit in memory: an upload whose declared rest cannot
    /// arrive before the request timeout, at the rate it has averaged over at least
    /// `minObserved`, gives its reservation back now (408) instead of at the upload grace.
    /// nil when this connection has no such upload (or the upload-rate rules are off).
    mutating func reclaimIfHopeless(minObserved: Duration) -> [Action]? {
        let now = clock.now
        guard phase == .open, limits.minUploadRate > 0, let r = receiving, let rate = averageRate(r, now, observedFor: minObserved),
            let late = cannotFinish(r, rate: rate, now), let i = index(r.id)
        else { return nil }
        receiving = nil
        let message = late + ", and another request needs the memory its Content-Length reserved"
        return stopParsing() + [.timeOut(queue[i].payload, message)]
    }

    /// Stop taking new work: an idle connection closes after the drain grace, a busy one after
    /// its last response (which then says `Connection: close`).
    mutating func drain() -> [Action] {
        guard !draining else { return [] }
        draining = true
        switch phase {
        case .closed: return []
        case .lingering: return close()
        case .open: return queue.isEmpty ? [.armTimer(clock.now.advanced(by: limits.drainGrace))] : []
        }
    }

    /// The connection is closing (whoever decided it): the payloads of the requests still
    /// queued, for the caller to drop; nil if it already was closing.
    mutating func closed() -> [Payload]? {
        guard phase != .closed else { return nil }
        phase = .closed
        receiving = nil
        defer { queue = [] }
        reading = false
        return queue.map(\.payload)
    }

    // MARK: Rules

    private func index(_ id: RequestID) -> Int? { queue.firstIndex { $0.id == id } }

    private func close() -> [Action] { phase == .closed ? [] : [.close] }

    private mutating func stopParsing() -> [Action] {
        guard parsing else { return [] }
        parsing = false
        return [.stopParsing]
    }

    /// After the last response: no more parsing, the rest of the queue is dropped, FIN goes
    /// out once the response is flushed (a client that never reads it is bounded by the idle
    /// timeout), then `shutdownCompleted` starts the linger proper.
    private mutating func linger() -> [Action] {
        phase = .lingering
        receiving = nil
        var actions = stopParsing()
        actions += queue.map { .drop($0.payload) }
        queue = []
        actions.append(.armTimer(clock.now.advanced(by: max(limits.idleTimeout, limits.lingerTimeout))))
        actions.append(.shutdown)
        return actions
    }

    /// Read while there is room: not after the peer's FIN, not with a full pipeline or a
    /// client that does not read its responses. Lingering reads (and drops) until the end.
    private mutating func readingActions() -> [Action] {
        let wanted =
            switch phase {
            case .closed: false
            case .lingering: !peerClosed
            case .open: !peerClosed && queue.count < limits.maxPipelined && writeBacklog <= limits.maxWriteBacklog
            }
        guard wanted != reading else { return [] }
        reading = wanted
        return [wanted ? .startReading : .stopReading]
    }

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

    /// Past the grace period, a body averaging less than the minimum rate is cut off, and so is
    /// one whose declared rest cannot arrive before the request timeout at the rate it has
    /// averaged: it would only hold its memory reservation until then (issue 21, D5). Headers
    /// are bounded by the request timeout alone.
    private func tooSlow(_ r: Receiving, _ now: C.Instant) -> String? {
        guard limits.minUploadRate > 0, let rate = averageRate(r, now, observedFor: limits.uploadGrace) else { return nil }
        if rate < Double(limits.minUploadRate) {
            return "the request body arrived at \(Int(rate)) bytes/s, below the minimum of \(limits.minUploadRate) bytes/s"
        }
        return cannotFinish(r, rate: rate, now)
    }

    /// Bytes per second the body has averaged since its first byte, once it has arrived for at
    /// least `minimum`; nil before (or before any body byte).
    private func averageRate(_ r: Receiving, _ now: C.Instant, observedFor minimum: Duration) -> Double? {
        guard let start = r.bodyStartedAt else { return nil }
        let elapsed = start.duration(to: now)
        guard elapsed >= minimum else { return nil }
        return Double(r.bodyBytes) / max(seconds(elapsed), 1e-9)
    }

    /// Why a body at `rate` cannot deliver the rest of its Content-Length before the request
    /// timeout; nil when it can (or declared none).
    private func cannotFinish(_ r: Receiving, rate: Double, _ now: C.Instant) -> String? {
        guard let declared = r.declared else { return nil }
        let left = seconds(now.duration(to: r.startedAt.advanced(by: limits.requestTimeout)))
        guard Double(declared - r.bodyBytes) > rate * left else { return nil }
        return "the request body arrives at \(Int(rate)) bytes/s: its remaining \(declared - r.bodyBytes) bytes cannot "
            + "arrive within the request timeout of \(seconds(limits.requestTimeout)) s"
    }

    private func seconds(_ d: Duration) -> Double {
        let (s, attoseconds) = d.components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

extension ConnectionStateMachine.Action: Equatable where Payload: Equatable {}
