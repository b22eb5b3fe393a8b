import Testing
@testable import OmniZipServer

/// The connection's decisions with a manual clock: no sockets, no sleeping. Each test feeds
/// events and checks the actions: reading, admission, writes in request order, timers, closing.
@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    /// Each request's payload is its id, so actions name requests by id.
    typealias Machine = ConnectionStateMachine<ManualClock, Int>
    let clock = ManualClock()
    let limits = Machine.Limits(
        idleTimeout: .seconds(60), requestTimeout: .seconds(30), lingerTimeout: .seconds(2),
        drainGrace: .seconds(1), minUploadRate: 1000, uploadGrace: .seconds(5), maxPipelined: 4,
        maxWriteBacklog: 1000, firstByteTimeout: .seconds(10))

    func machine(_ limits: Machine.Limits? = nil) -> Machine { Machine(limits: limits ?? self.limits, clock: clock) }
    func at(_ seconds: Int) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    /// A request through headers: its id, after checking it goes to admission.
    func start(_ m: inout Machine, body: Machine.Body = .none, continueAllowed: Bool = false) -> Int {
        guard let (id, _) = m.requestStarted() else {
            Issue.record("request refused")
            return -1
        }
        let actions = m.headersComplete(id, body: body, continueAllowed: continueAllowed)
        #expect(actions == [.admit(id)])
        return id
    }

    /// A request received whole, its response not yet decided.
    func received(_ m: inout Machine, closeAfter: Bool = false) -> Int {
        let id = start(&m)
        _ = m.requestComplete(id, closeAfter: closeAfter)
        return id
    }

    // MARK: Timers

    @Test func aSilentConnectionClosesAfterTheFirstByteTimeout() {
        var m = machine()
        let opened1 = m.opened()
        #expect(opened1 == [.armTimer(at(10)), .startReading], "10 s for the first byte, not the 60 s idle timeout")
        clock.advance(by: .seconds(10))
        let timerFired2 = m.timerFired()
        #expect(timerFired2 == [.close])
        let closed3 = m.closed()
        #expect(closed3 == [])
        let closed4 = m.closed()
        #expect(closed4 == nil, "closing twice is a no-op")
    }

    @Test func aConnectionIsSilentUntilItsFirstRequestBegins() {
        var m = machine()
        #expect(!m.isSilent, "not before it opened")
        _ = m.opened()
        #expect(m.isSilent && m.openedAt == at(0))
        clock.advance(by: .seconds(2))
        _ = m.requestStarted()
        #expect(!m.isSilent)
    }

    @Test func theFirstByteTimeoutNeverExceedsTheIdleTimeout() {
        var short = limits
        short.idleTimeout = .seconds(3)
        var m = machine(short)
        let opened = m.opened()
        #expect(opened == [.armTimer(at(3)), .startReading])
    }

    @Test func keepAliveRearmsTheIdleTimerAfterEachResponse() {
        var m = machine()
        _ = m.opened()
        clock.advance(by: .seconds(10))
        guard let (id, started) = m.requestStarted() else { Issue.record("refused"); return }
        #expect(started == [.armTimer(at(10 + 30))], "the request deadline; no body yet")
        _ = m.headersComplete(id, body: .none, continueAllowed: false)
        let requestComplete5 = m.requestComplete(id, closeAfter: false)
        #expect(requestComplete5 == [.disarmTimer])
        // A worker may take long: no timer runs meanwhile.
        clock.advance(by: .seconds(100))
        let responseReady6 = m.responseReady(id, close: false)
        #expect(responseReady6 == [])
        let advance7 = m.advance(writeBacklog: 0)
        #expect(advance7 == [.write(id, closing: false), .armTimer(at(110 + 60))])
        #expect(m.isIdle && m.phase == .open)
    }

    @Test func aRequestNotCompleteInTimeGets408() {
        var m = machine(
            .init(
                idleTimeout: .seconds(60), requestTimeout: .seconds(3), lingerTimeout: .seconds(2),
                drainGrace: .seconds(1), minUploadRate: 0, uploadGrace: .seconds(5), maxPipelined: 4,
                firstByteTimeout: .seconds(10)))
        _ = m.opened()
        let id = start(&m, body: .length(100))
        clock.advance(by: .seconds(3))
        let actions = m.timerFired()
        guard case let .timeOut(timedOut, message) = actions.last else { Issue.record("no timeout: \(actions)"); return }
        #expect(timedOut == id && message.contains("within 3.0 s"))
        #expect(actions.first == .stopParsing, "nothing more of it is parsed")
        #expect(!m.isReceiving)
        // The 408 is then written at once and the connection lingers.
        _ = m.responseReady(id, close: true)
        let advance8 = m.advance(writeBacklog: 0)
        #expect(advance8.contains(.write(id, closing: true)))
        #expect(m.phase == .lingering)
    }

    @Test func aSlowBodyIsCutOffAfterTheGrace() {
        var m = machine()
        _ = m.opened()
        _ = start(&m, body: .length(10_000))
        clock.advance(by: .seconds(1))
        let bodyReceived9 = m.bodyReceived(100)
        #expect(bodyReceived9 == [.armTimer(at(6))], "the body starts at t = 1; first check when the grace ends")
        clock.advance(by: .seconds(4))
        let timerFired10 = m.timerFired()
        #expect(timerFired10 == [.armTimer(at(6))], "t = 5, an early wake-up: the grace has not passed")
        clock.advance(by: .seconds(1))
        _ = m.bodyReceived(200)
        // t = 6: 300 bytes in 5 s = 60 bytes/s < 1000.
        guard case let .timeOut(_, message) = m.timerFired().last else { Issue.record("slow body not cut off"); return }
        #expect(message.contains("60 bytes/s"))
    }

    @Test func aBodyThatCannotArriveBeforeTheDeadlineIsCutOffAfterTheGrace() {
        var m = machine()
        _ = m.opened()
        _ = start(&m, body: .length(1_000_000))
        clock.advance(by: .seconds(1))
        _ = m.bodyReceived(1000)
        // 2,000 bytes/s: above the 1,000 minimum, but 990,000 more bytes need 495 s and the
        // request timeout leaves 24 s at t = 6.
        for _ in 0..<5 {
            clock.advance(by: .seconds(1))
            _ = m.bodyReceived(2000)
        }
        guard case let .timeOut(_, message) = m.timerFired().last else { Issue.record("hopeless body not cut off"); return }
        #expect(message.contains("cannot arrive within the request timeout of 30.0 s") && message.contains("989000 bytes"))
    }

    /// Issue 21, D5: under memory pressure a hopeless upload gives its reservation back after
    /// a second of body, not after the 5 s grace; one that can still make it keeps it.
    @Test func aHopelessUploadIsReclaimedWhenMemoryIsShort() {
        var m = machine()
        _ = m.opened()
        let id = start(&m, body: .length(1_000_000))
        _ = m.bodyReceived(1000)
        clock.advance(by: .milliseconds(500))
        #expect(m.reclaimIfHopeless(minObserved: .seconds(1)) == nil, "judged on at least a second of body")
        clock.advance(by: .milliseconds(500))
        _ = m.bodyReceived(1000)
        guard case let .timeOut(timedOut, message)? = m.reclaimIfHopeless(minObserved: .seconds(1))?.last else {
            Issue.record("a 1,000 bytes/s upload of 1 MB was not reclaimed")
            return
        }
        #expect(timedOut == id && message.contains("another request needs the memory"))
        #expect(!m.isReceiving)

        var fast = machine()
        _ = fast.opened()
        _ = start(&fast, body: .length(100_000))
        _ = fast.bodyReceived(10_000)
        clock.advance(by: .seconds(2))
        #expect(fast.reclaimIfHopeless(minObserved: .seconds(1)) == nil, "90 kB at 5 kB/s arrive well within 28 s")
    }

    @Test func aFastBodyIsNotCutOff() {
        var m = machine()
        _ = m.opened()
        _ = start(&m, body: .length(100_000))
        for second in 1...10 {
            clock.advance(by: .seconds(1))
            _ = m.bodyReceived(5000)
            let timerFired11 = m.timerFired()
            if second >= 5 { #expect(timerFired11 == [.armTimer(at(second + 1))]) }
        }
        #expect(m.isReceiving)
    }

    @Test func headersAloneAreBoundByTheRequestTimeoutOnly() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        clock.advance(by: .seconds(20))
        // No body byte yet: the rate check does not apply; only the deadline stands.
        let timerFired12 = m.timerFired()
        #expect(timerFired12 == [.armTimer(at(30))])
        clock.advance(by: .seconds(10))
        guard case .timeOut = m.timerFired().last else { Issue.record("no timeout at 30 s"); return }
    }

    // MARK: Writes in order

    @Test func pipelinedResponsesGoOutInRequestOrder() {
        var m = machine()
        _ = m.opened()
        let first = received(&m)
        let second = received(&m)
        // The second finishes first: it waits for the first.
        _ = m.responseReady(second, close: false)
        let advance13 = m.advance(writeBacklog: 0)
        #expect(advance13 == [])
        _ = m.responseReady(first, close: false)
        let advance14 = m.advance(writeBacklog: 0)
        #expect(advance14 == [.write(first, closing: false), .write(second, closing: false), .armTimer(at(60))])
    }

    @Test func aRefusedSmallBodyIsReadAndDroppedKeepingTheConnection() {
        var m = machine()
        _ = m.opened()
        let id = start(&m, body: .length(1000))
        let responseReady15 = m.responseReady(id, close: false)
        #expect(responseReady15 == [], "not early: the 1000 bytes are read first")
        let advance16 = m.advance(writeBacklog: 0)
        #expect(advance16 == [])
        #expect(m.isParsing)
        _ = m.requestComplete(id, closeAfter: false)
        let advance17 = m.advance(writeBacklog: 0)
        #expect(advance17 == [.write(id, closing: false), .armTimer(at(60))])
    }

    @Test func aRefusedLargeOrChunkedBodyIsAnsweredAtOnceAndTheConnectionCloses() {
        for body in [Machine.Body.length(100 << 20), .chunked] {
            var m = machine()
            _ = m.opened()
            let id = start(&m, body: body)
            let responseReady18 = m.responseReady(id, close: false)
            #expect(responseReady18 == [.stopParsing, .disarmTimer])
            let actions = m.advance(writeBacklog: 0)
            #expect(actions == [.write(id, closing: true), .armTimer(at(60)), .shutdown], "\(body)")
            #expect(m.phase == .lingering && !m.isParsing)
            // The linger proper: read and drop until the peer closes or the time is up.
            let shutdownCompleted19 = m.shutdownCompleted()
            #expect(shutdownCompleted19 == [.armTimer(at(2))])
            #expect(m.reading)
            let peerFinished20 = m.peerFinished()
            #expect(peerFinished20 == [.stopReading, .close])
        }
    }

    @Test func continueIsSentOnlyForAnAdmittedRequestAtTheFront() {
        var m = machine()
        _ = m.opened()
        let id = start(&m, body: .length(10 << 20), continueAllowed: true)
        let advance21 = m.advance(writeBacklog: 0)
        #expect(advance21 == [.sendContinue(id)])
        let advance22 = m.advance(writeBacklog: 0)
        #expect(advance22 == [], "once")
        // Refused before its body: no 100 Continue, the refusal goes out at once.
        var r = machine()
        _ = r.opened()
        let refused = start(&r, body: .length(10), continueAllowed: true)
        _ = r.responseReady(refused, close: false)
        let advance23 = r.advance(writeBacklog: 0)
        #expect(advance23.first == .write(refused, closing: true))
    }

    // MARK: Reading

    @Test func readingPausesForAFullPipelineAndAClientThatDoesNotRead() {
        var m = machine()
        _ = m.opened()
        var ids: [Int] = []
        for _ in 0..<4 {
            let id = received(&m)
            ids.append(id)
        }
        let advance24 = m.advance(writeBacklog: 0)
        #expect(advance24 == [.stopReading], "four requests parsed ahead")
        _ = m.responseReady(ids[0], close: false)
        let advance25 = m.advance(writeBacklog: 0)
        #expect(advance25 == [.write(ids[0], closing: false), .startReading])
        let advance26 = m.advance(writeBacklog: 5000)
        #expect(advance26 == [.stopReading], "responses piling up unread")
        let advance27 = m.advance(writeBacklog: 0)
        #expect(advance27 == [.startReading])
    }

    @Test func aClientThatClosesMidRequestHasItsRequestDropped() {
        var m = machine()
        _ = m.opened()
        let done = received(&m)
        let partial = start(&m, body: .length(500))
        let actions = m.peerFinished()
        #expect(actions.contains(.drop(partial)) && actions.contains(.stopReading) && !actions.contains(.close))
        // The complete one is still answered, and closes the connection.
        _ = m.responseReady(done, close: false)
        let advance28 = m.advance(writeBacklog: 0)
        #expect(advance28.contains(.write(done, closing: true)))
    }

    @Test func connectionCloseAnswersThenStopsParsing() {
        var m = machine()
        _ = m.opened()
        let id = start(&m)
        let requestComplete29 = m.requestComplete(id, closeAfter: true)
        #expect(requestComplete29 == [.stopParsing, .disarmTimer])
        let requestStarted30 = m.requestStarted()
        #expect(requestStarted30 == nil, "nothing more is parsed")
        _ = m.responseReady(id, close: false)
        let advance31 = m.advance(writeBacklog: 0)
        #expect(advance31.first == .write(id, closing: true))
    }

    // MARK: Draining

    @Test func drainGivesAnIdleConnectionAGracePeriod() {
        var m = machine()
        _ = m.opened()
        let drain32 = m.drain()
        #expect(drain32 == [.armTimer(at(1))])
        let drain33 = m.drain()
        #expect(drain33 == [], "draining twice changes nothing")
        // A request already on the wire arrives within the grace: it is served, with close.
        let id = start(&m)
        let requestComplete34 = m.requestComplete(id, closeAfter: false)
        #expect(requestComplete34 == [.disarmTimer])
        _ = m.responseReady(id, close: false)
        let advance35 = m.advance(writeBacklog: 0)
        #expect(
            advance35 == [.write(id, closing: true), .stopParsing, .armTimer(at(60)), .shutdown],
            "flushing the last response is bounded by the idle timeout")
        #expect(m.phase == .lingering)
        clock.advance(by: .seconds(1))
        let shutdownCompleted36 = m.shutdownCompleted()
        #expect(shutdownCompleted36 == [.armTimer(at(3))])
        clock.advance(by: .seconds(2))
        let timerFired37 = m.timerFired()
        #expect(timerFired37 == [.close])
    }

    @Test func drainWaitsForABusyConnection() {
        var m = machine()
        _ = m.opened()
        let id = received(&m)
        let drain38 = m.drain()
        #expect(drain38 == [])
        #expect(m.draining)
        clock.advance(by: .seconds(5))
        let timerFired39 = m.timerFired()
        #expect(timerFired39 == [], "a response is pending")
        _ = m.responseReady(id, close: false)
        let advance40 = m.advance(writeBacklog: 0)
        #expect(advance40.first == .write(id, closing: true))
    }

    @Test func drainWhileLingeringClosesAtOnce() {
        var m = machine()
        _ = m.opened()
        let id = received(&m, closeAfter: true)
        _ = m.responseReady(id, close: false)
        _ = m.advance(writeBacklog: 0)
        let drain41 = m.drain()
        #expect(drain41 == [.close])
    }

    @Test func aClosingResponseDropsTheRequestsQueuedBehindIt() {
        var m = machine()
        _ = m.opened()
        let first = received(&m)
        let second = received(&m)
        let ready = m.responseReady(first, close: true)
        #expect(ready == [.stopParsing])
        let actions = m.advance(writeBacklog: 0)
        #expect(actions.prefix(2) == [.write(first, closing: true), .drop(second)])
        #expect(m.isIdle)
    }
}

extension ConnectionStateMachine where Payload == Int {
    /// A request whose payload is its id.
    mutating func requestStarted() -> (Int, [Action])? { requestStarted { $0 } }
}
