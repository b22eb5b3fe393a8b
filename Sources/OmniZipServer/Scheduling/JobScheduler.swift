/// A body still arriving whose ready units a pump may run (`StreamingCompression` in the
/// server; a plain counter in the tests).
protocol PumpedStream: AnyObject {
    /// Units whose rows are in and that no thread has claimed yet.
    var readyUnits: Int { get }
    /// Whether it still holds its scratch (the pooled rows, normalised): at most `workers`
    /// streams may, since admission does not count it.
    var holdsScratch: Bool { get }
}

/// Which work gets the pool's worker slots, as a value with no threads and no clock: the loop
/// feeds it events (a request complete, a stream's units ready, a job or pump done, a client
/// gone) and carries out the starts it returns. `JobSchedulerTests` checks every rule.
///
/// - At most `workers` slots are busy; each runs one job (which fans out over the pool itself)
///   or one pump.
/// - Complete requests start in arrival order. Slots no complete request wants run the ready
///   units of bodies still arriving ("pumps"), no more pumps per stream than it has ready units;
///   a pump gives its slot back between two units once `waiting` is non-zero.
/// - At most `workers` streams hold scratch at once; others wait for their last byte.
/// - A request abandoned while queued leaves at once and hands its work back (so its body and
///   scratch go with its ticket); one abandoned while running is reported when it finishes.
struct JobScheduler<Key: Hashable, Work, Stream: PumpedStream> {
    enum Start {
        case job(Key, Work)
        case pump(Stream)
    }

    /// Where an abandoned request was.
    enum Abandoned {
        case queued(Work)
        case running
        case unknown
    }

    let workers: Int
    /// Waiting requests from `readyHead` on; a slot is emptied as its job starts, so the
    /// scheduler never keeps a started job's work (its body) alive.
    private var ready: [(key: Key, work: Work)?] = []
    private var readyHead = 0
    /// Running jobs, and whether their client has gone.
    private var running: [Key: Bool] = [:]
    private var streams: [WeakStream] = []
    private var pumps: [ObjectIdentifier: Int] = [:]

    private struct WeakStream {
        weak var stream: Stream?
    }

    init(workers: Int) {
        self.workers = max(1, workers)
    }

    /// Complete requests waiting for a slot: what pumps yield to.
    var waiting: Int { ready.count - readyHead }
    var isIdle: Bool { busy == 0 }
    /// Slots taken: each running job and each pump holds one.
    var busy: Int { running.count + pumps.values.reduce(0, +) }

    /// Whether a new stream may start now (it holds scratch from its first unit on).
    var streamSlotFree: Bool { streams.lazy.filter { $0.stream?.holdsScratch == true }.count < workers }

    /// A stream started; its units run when slots are free (`unitsArrived`).
    mutating func streamStarted(_ stream: Stream) -> [Start] {
        streams.removeAll { $0.stream?.holdsScratch != true }
        streams.append(WeakStream(stream: stream))
        return schedule()
    }

    /// More of some stream's body is in.
    mutating func unitsArrived() -> [Start] { schedule() }

    mutating func submit(_ key: Key, _ work: Work) -> [Start] {
        ready.append((key, work))
        return schedule()
    }

    /// A job finished: its slot is free. `abandoned`: its client went away meanwhile.
    mutating func jobFinished(_ key: Key) -> (abandoned: Bool, starts: [Start]) {
        let abandoned = running.removeValue(forKey: key) ?? false
        return (abandoned, schedule())
    }

    mutating func pumpFinished(_ stream: Stream) -> [Start] {
        let id = ObjectIdentifier(stream)
        if let count = pumps[id] { pumps[id] = count > 1 ? count - 1 : nil }
        return schedule()
    }

    /// The client went away before its answer.
    mutating func abandon(_ key: Key) -> Abandoned {
        if running[key] != nil {
            running[key] = true
            return .running
        }
        guard let i = ready[readyHead...].firstIndex(where: { $0?.key == key }), let entry = ready.remove(at: i) else { return .unknown }
        return .queued(entry.work)
    }

    private mutating func schedule() -> [Start] {
        var starts: [Start] = []
        while busy < workers, readyHead < ready.count, let next = ready[readyHead] {
            ready[readyHead] = nil
            readyHead += 1
            running[next.key] = false
            starts.append(.job(next.key, next.work))
        }
        if readyHead > 32, readyHead * 2 > ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
        while busy < workers,
            let stream = streams.lazy.compactMap(\.stream).first(where: { $0.readyUnits > self.pumps[ObjectIdentifier($0), default: 0] })
        {
            pumps[ObjectIdentifier(stream), default: 0] += 1
            starts.append(.pump(stream))
        }
        return starts
    }
}
