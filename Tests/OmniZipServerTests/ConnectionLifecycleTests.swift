import Testing
@testable import OmniZipServer

/// The connection's timing rules with a manual clock: no sockets, no sleeping.
@Suite("Connection lifecycle (state machine)")
struct ConnectionLifecycleTests {
    typealias Machine = ConnectionLifecycle<ManualClock>
    let clock = ManualClock()
    let limits = Machine.Limits(idleTimeout: .seconds(60), requestTimeout: .seconds(30), lingerTimeout: .seconds(2),
                                drainGrace: .seconds(1), minUploadRate: 1000, uploadGrace: .seconds(5))

    func machine() -> Machine { Machine(limits: limits, clock: clock) }
    func at(_ seconds: Int) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    @Test func idleConnectionClosesAfterTheIdleTimeout() {
        var m = machine()
        let openedResult1 = m.opened()
        #expect(openedResult1 == .armTimer(at(60)))
        clock.advance(by: .seconds(60))
        let timerFiredResult1 = m.timerFired()
        #expect(timerFiredResult1 == .close)
        let closedResult1 = m.closed()
        #expect(closedResult1)
        let closedResult2 = m.closed()
        #expect(!closedResult2, "closing twice is a no-op")
    }

    @Test func keepAliveRearmsTheIdleTimerAfterEachResponse() {
        var m = machine()
        _ = m.opened()
        clock.advance(by: .seconds(10))
        let requestStartedResult1 = m.requestStarted()
        #expect(requestStartedResult1 == .armTimer(at(10 + 30)), "the request deadline; no body yet")
        let requestEndedResult1 = m.requestEnded()
        #expect(requestEndedResult1 == .disarmTimer)
        // A worker may take long: no timer runs meanwhile.
        clock.advance(by: .seconds(100))
        let responseSentResult1 = m.responseSent(closing: false)
        #expect(responseSentResult1 == .armTimer(at(110 + 60)))
        #expect(m.isIdle)
    }

    @Test func aRequestNotCompleteInTimeGets408() {
        var m = Machine(limits: .init(idleTimeout: .seconds(60), requestTimeout: .seconds(3), lingerTimeout: .seconds(2),
                                      drainGrace: .seconds(1), minUploadRate: 0, uploadGrace: .seconds(5)), clock: clock)
        _ = m.opened()
        let requestStartedResult2 = m.requestStarted()
        #expect(requestStartedResult2 == .armTimer(at(3)))
        clock.advance(by: .seconds(3))
        guard case let .timeOut(message) = m.timerFired() else { Issue.record("no timeout"); return }
        #expect(message.contains("within 3.0 s"))
        #expect(!m.isReceiving)
    }

    @Test func aSlowBodyIsCutOffAfterTheGrace() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        clock.advance(by: .seconds(1))
        let first = m.bodyReceived(100)       // the body starts at t = 1
        #expect(first == .armTimer(at(6)), "the first check when the grace ends")
        clock.advance(by: .seconds(4))
        // t = 5 (an early wake-up): the grace has not passed.
        let timerFiredResult2 = m.timerFired()
        #expect(timerFiredResult2 == .armTimer(at(6)))
        clock.advance(by: .seconds(1))
        _ = m.bodyReceived(200)
        // t = 6: 300 bytes in 5 s = 60 bytes/s < 1000.
        guard case let .timeOut(message) = m.timerFired() else { Issue.record("slow body not cut off"); return }
        #expect(message.contains("60 bytes/s"))
    }

    @Test func aFastBodyIsNotCutOff() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        for second in 1...10 {
            clock.advance(by: .seconds(1))
            _ = m.bodyReceived(5000)
            if second >= 5 { #expect(m.timerFired() == .armTimer(at(second + 1))) }
        }
        #expect(m.isReceiving)
    }

    @Test func headersAloneAreBoundByTheRequestTimeoutOnly() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        clock.advance(by: .seconds(20))
        // No body byte yet: the rate check does not apply; only the deadline stands.
        let timerFiredResult3 = m.timerFired()
        #expect(timerFiredResult3 == .armTimer(at(30)))
        clock.advance(by: .seconds(10))
        guard case .timeOut = m.timerFired() else { Issue.record("no timeout at 30 s"); return }
    }

    @Test func drainGivesAnIdleConnectionAGracePeriod() {
        var m = machine()
        _ = m.opened()
        let drainResult1 = m.drain()
        #expect(drainResult1 == .armTimer(at(1)))
        let drainResult2 = m.drain()
        #expect(drainResult2 == .none, "draining twice changes nothing")
        // A request already on the wire arrives within the grace: it is served.
        let requestStartedResult3 = m.requestStarted()
        #expect(requestStartedResult3 == .armTimer(at(30)))
        let requestEndedResult2 = m.requestEnded()
        #expect(requestEndedResult2 == .disarmTimer)
        let responseSentResult2 = m.responseSent(closing: true)
        #expect(responseSentResult2 == .armTimer(at(60)), "flushing the last response is bounded by the idle timeout")
        #expect(m.phase == .lingering)
        clock.advance(by: .seconds(1))
        let shutdownCompletedResult1 = m.shutdownCompleted()
        #expect(shutdownCompletedResult1 == .armTimer(at(3)))
        clock.advance(by: .seconds(2))
        let timerFiredResult4 = m.timerFired()
        #expect(timerFiredResult4 == .close)
    }

    @Test func drainWaitsForABusyConnection() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        _ = m.requestEnded()
        let drainResult3 = m.drain()
        #expect(drainResult3 == .none)
        #expect(m.draining)
        clock.advance(by: .seconds(5))
        let timerFiredResult5 = m.timerFired()
        #expect(timerFiredResult5 == .none, "a response is pending")
        let responseSentResult3 = m.responseSent(closing: true)
        #expect(responseSentResult3 == .armTimer(at(65)))
    }

    @Test func drainWhileLingeringClosesAtOnce() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        _ = m.requestEnded()
        _ = m.responseSent(closing: true)
        let drainResult4 = m.drain()
        #expect(drainResult4 == .close)
    }

    @Test func aDroppedRequestLeavesTheConnectionIdle() {
        var m = machine()
        _ = m.opened()
        _ = m.requestStarted()
        m.requestDropped()
        #expect(m.isIdle && m.pending == 0)
    }
}

@Suite("Admission (bookkeeping)")
struct AdmissionTests {
    @Test func uploadsHoldMemoryNotWorkerSlots() {
        var a = Admission(maxQueued: 2, maxBufferedBytes: 1000)
        // Ten uploads in progress, none complete: nobody is refused for the queue.
        var tickets: [Admission.Ticket] = []
        for _ in 0..<10 {
            guard case let .success(t) = a.admit(reserving: 50) else { Issue.record("refused"); return }
            tickets.append(t)
        }
        #expect(a.admitted == 10 && a.queued == 0 && a.bufferedBytes == 500)
        // Two complete: the queue is full, the next request is refused from its headers.
        a.enqueue(&tickets[0])
        a.enqueue(&tickets[1])
        a.enqueue(&tickets[1])   // once per ticket
        #expect(a.queued == 2)
        guard case .failure(.queueFull) = a.admit(reserving: 1) else { Issue.record("queue not enforced"); return }
        // Uploads still in progress complete anyway: no refusal after a whole body.
        a.enqueue(&tickets[2])
        #expect(a.queued == 3)
        a.release(tickets[0])
        a.release(tickets[1])
        a.release(tickets[2])
        #expect(a.queued == 0 && a.admitted == 7 && a.bufferedBytes == 350)
    }

    @Test func bodiesMustFitTheMemoryBudget() {
        var a = Admission(maxQueued: 8, maxBufferedBytes: 1000)
        guard case var .success(t) = a.admit(reserving: 600) else { Issue.record("refused"); return }
        guard case let .failure(.memory(message)) = a.admit(reserving: 500) else { Issue.record("over budget admitted"); return }
        #expect(message.contains("600 of 1000"))
        let growResult1 = a.grow(&t, to: 900)
        #expect(growResult1)
        let growResult2 = a.grow(&t, to: 1100)
        #expect(!growResult2)
        #expect(t.reservedBytes == 900 && a.bufferedBytes == 900)
        a.release(t)
        #expect(a.bufferedBytes == 0 && a.admitted == 0)
    }
}
