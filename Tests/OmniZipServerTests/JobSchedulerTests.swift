import Testing

@testable import OmniZipServer

/// The scheduler's rules, without threads, sockets or a clock.
@Suite("Job scheduler")
struct JobSchedulerTests {
    final class FakeStream: PumpedStream {
        var readyUnits = 0
        var holdsScratch = true
    }

    typealias Scheduler = JobScheduler<Int, String, FakeStream>

    /// The starts as text: "job 3" or "pump".
    func names(_ starts: [Scheduler.Start]) -> [String] {
        starts.map {
            switch $0 {
            case let .job(key, _): "job \(key)"
            case .pump: "pump"
            }
        }
    }

    @Test("complete requests start in arrival order, at most `workers` at once")
    func fifoWithinWorkers() {
        var scheduler = Scheduler(workers: 2)
        #expect(names(scheduler.submit(1, "a")) == ["job 1"])
        #expect(names(scheduler.submit(2, "b")) == ["job 2"])
        #expect(names(scheduler.submit(3, "c")).isEmpty)
        #expect(names(scheduler.submit(4, "d")).isEmpty)
        #expect(scheduler.waiting == 2)
        let (abandoned, starts) = scheduler.jobFinished(2)
        #expect(!abandoned && names(starts) == ["job 3"])
        #expect(names(scheduler.jobFinished(1).starts) == ["job 4"])
        #expect(scheduler.waiting == 0 && !scheduler.isIdle)
        _ = scheduler.jobFinished(3)
        _ = scheduler.jobFinished(4)
        #expect(scheduler.isIdle)
    }

    @Test("free slots pump a stream's ready units, no more pumps than units")
    func pumpsFillFreeSlots() {
        var scheduler = Scheduler(workers: 3)
        let stream = FakeStream()
        #expect(names(scheduler.streamStarted(stream)).isEmpty, "no unit ready yet")
        stream.readyUnits = 2
        #expect(names(scheduler.unitsArrived()) == ["pump", "pump"])
        #expect(names(scheduler.unitsArrived()).isEmpty, "two pumps already serve two units")
        // A complete request takes the third slot; a fourth waits for a pump to give its slot back.
        #expect(names(scheduler.submit(1, "a")) == ["job 1"])
        #expect(names(scheduler.submit(2, "b")).isEmpty)
        #expect(scheduler.waiting == 2 - 1)
        stream.readyUnits = 0
        #expect(names(scheduler.pumpFinished(stream)) == ["job 2"], "a pump's slot goes to the waiting job first")
        #expect(names(scheduler.pumpFinished(stream)).isEmpty)
        _ = scheduler.jobFinished(1)
        _ = scheduler.jobFinished(2)
        #expect(scheduler.isIdle)
    }

    @Test("waiting jobs go before pumps")
    func jobsBeforePumps() {
        var scheduler = Scheduler(workers: 1)
        let stream = FakeStream()
        stream.readyUnits = 5
        #expect(names(scheduler.submit(1, "a")) == ["job 1"])
        #expect(names(scheduler.streamStarted(stream)).isEmpty)
        #expect(names(scheduler.submit(2, "b")).isEmpty)
        #expect(names(scheduler.jobFinished(1).starts) == ["job 2"])
        #expect(names(scheduler.jobFinished(2).starts) == ["pump"])
    }

    @Test("at most `workers` streams hold scratch; finished or dropped ones free their slot")
    func streamCap() {
        var scheduler = Scheduler(workers: 2)
        let a = FakeStream(), b = FakeStream()
        #expect(scheduler.streamSlotFree)
        _ = scheduler.streamStarted(a)
        #expect(scheduler.streamSlotFree)
        _ = scheduler.streamStarted(b)
        #expect(!scheduler.streamSlotFree)
        a.holdsScratch = false
        #expect(scheduler.streamSlotFree)
        var c: FakeStream? = FakeStream()
        _ = scheduler.streamStarted(c!)
        #expect(!scheduler.streamSlotFree)
        c = nil
        #expect(scheduler.streamSlotFree, "a stream nobody holds any more is gone")
    }

    @Test("an abandoned queued request leaves at once with its work; a running one is reported when it ends")
    func abandonment() {
        var scheduler = Scheduler(workers: 1)
        _ = scheduler.submit(1, "a")
        _ = scheduler.submit(2, "b")
        _ = scheduler.submit(3, "c")
        guard case let .queued(work) = scheduler.abandon(2) else {
            Issue.record("request 2 was queued")
            return
        }
        #expect(work == "b" && scheduler.waiting == 1)
        guard case .running = scheduler.abandon(1) else {
            Issue.record("request 1 was running")
            return
        }
        guard case .unknown = scheduler.abandon(2) else {
            Issue.record("request 2 left the queue")
            return
        }
        let (abandoned, starts) = scheduler.jobFinished(1)
        #expect(abandoned)
        #expect(names(starts) == ["job 3"], "the abandoned request was skipped")
        #expect(!scheduler.jobFinished(3).abandoned)
        #expect(scheduler.isIdle && scheduler.waiting == 0)
    }

    @Test("a long queue keeps its order as it is consumed and refilled")
    func longQueue() {
        var scheduler = Scheduler(workers: 1)
        var started: [String] = []
        started += names(scheduler.submit(0, "0"))
        for key in 1..<100 { started += names(scheduler.submit(key, "\(key)")) }
        for key in 0..<100 {
            if key % 3 == 0 { started += names(scheduler.submit(100 + key, "x")) }
            started += names(scheduler.jobFinished(Int(started.last!.dropFirst(4))!).starts)
        }
        let expected = (0..<100).map { "job \($0)" } + (0..<100).filter { $0 % 3 == 0 }.map { "job \(100 + $0)" }
        #expect(Array(started.prefix(expected.count)) == Array(expected.prefix(started.count)))
        #expect(started.count == 101)
    }

    /// The work is the request's body: once started it belongs to the worker, and the scheduler
    /// must not keep it alive (it did, until the queue was compacted: 2.3 GiB under a 1 GiB
    /// budget with 80 clips uploaded and reset).
    @Test("the scheduler keeps no reference to a started or abandoned job's work")
    func noReferenceKept() {
        final class Body {}
        var scheduler = JobScheduler<Int, Body, FakeStream>(workers: 1)
        weak var started: Body?, abandoned: Body?
        do {
            let a = Body(), b = Body()
            started = a
            abandoned = b
            _ = scheduler.submit(1, a)
            _ = scheduler.submit(2, b)
            _ = scheduler.abandon(2)
        }
        #expect(started == nil, "a started job's work is the worker's alone")
        #expect(abandoned == nil)
        #expect(!scheduler.jobFinished(1).abandoned && scheduler.isIdle)
    }
}
