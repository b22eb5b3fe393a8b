import Testing
@testable import OmniZipServer

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
        a.enqueue(&tickets[1]) // once per ticket
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

    @Test("done work frees the worker-queue slot at once; the body's memory stays until release")
    func workDoneFreesTheQueueSlot() {
        var a = Admission(maxQueued: 1, maxBufferedBytes: 1000)
        guard case var .success(t) = a.admit(reserving: 300) else { Issue.record("refused"); return }
        a.enqueue(&t)
        guard case .failure(.queueFull) = a.admit(reserving: 1) else { Issue.record("queue not enforced"); return }
        a.workDone(&t)
        a.workDone(&t) // once per ticket
        #expect(a.queued == 0 && a.admitted == 1 && a.bufferedBytes == 300)
        guard case let .success(next) = a.admit(reserving: 1) else { Issue.record("the slot did not come back"); return }
        a.release(t)
        a.release(next)
        #expect(a.queued == 0 && a.admitted == 0 && a.bufferedBytes == 0)
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
