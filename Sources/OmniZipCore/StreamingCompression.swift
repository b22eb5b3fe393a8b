/// A compression that runs while its request body arrives. The plan (stages 1-2) is made from
/// the scores before any embedding row is in; then each unit of `CompressionWork` (an audio
/// block, a panel of pooled rows, a pair of frames, a cross-modal tile) becomes ready as soon as
/// the rows it reads and the units it reads from are complete, and `runReadyUnits` runs ready
/// ones on whatever threads the caller has idle. When the last byte is in,
/// `finish()` runs what is left and reduces the slots in the one fixed order: the result is the
/// bytes `Compressor.compress` gives, whatever the arrival pattern.
///
/// The scheduling state is behind a `PthreadLock`, which also orders the body's bytes (written
/// by the thread that reads the socket, before it reports them) before any unit reads them.
public final class StreamingCompression: @unchecked Sendable {
    private let pool: WorkerPool
    private let total: Int
    /// The memory the rows live in: released only when no unit can read it any more.
    private let keepAlive: AnyObject
    private var timings = PhaseTimings()

    private let lock = PthreadLock()
    // Guarded by `lock`:
    /// The units' state and scratch: dropped when the result is out or, once cancelled, when the
    /// last running unit returns, whoever still holds this object.
    private var work: CompressionWork?
    /// Units being run right now.
    private var running = 0
    private var received = 0
    /// Units that read rows themselves, by the last byte they read.
    private let arrivalOrder: [Int]
    private let lastByte: [Int]
    private var nextArrival = 0
    private var unmet: [Int]
    private let dependents: [[Int]]
    private var arrived: [Bool]
    private var ready: [Int] = []
    private var readyHead = 0
    private var done = 0
    private var stopping = false
    private var cancelled = false

    /// `bodyStart` is where the request body starts, `keepAlive` owns its memory; the rows of
    /// `input` point into it, and may not have arrived yet. Throws what `compress` would throw
    /// for the plan. `trace`, when given, records what `Compressor.compress(_:trace:)` would.
    public init(
        _ input: CompressionInput, compressor: Compressor, bodyStart: UnsafeRawPointer, keepAlive: AnyObject,
        trace: CompressionTrace? = nil
    ) throws(OmniZipError) {
        let clock = ContinuousClock(), start = clock.now
        let plan = try BudgetPlan(scores: input.audioScores, layout: input.layout, parameters: input.parameters)
        timings.plan = (clock.now - start).seconds
        let work = try CompressionWork(
            input, plan: plan, path: compressor.crossModalPath(input), buffers: compressor.pool.buffers,
            similarityBytes: compressor.similarityBytes, trace: trace)
        self.work = work
        total = work.units.count
        pool = compressor.pool
        self.keepAlive = keepAlive
        let n = work.units.count
        var dependents = [[Int]](repeating: [], count: n)
        var unmet = [Int](repeating: 0, count: n)
        for unit in 0..<n {
            let prerequisites = work.prerequisites(unit)
            unmet[unit] = prerequisites.count
            for p in prerequisites { dependents[p].append(unit) }
        }
        self.dependents = dependents
        self.unmet = unmet
        let lastByte = (0..<n).map { work.lastByte($0, from: bodyStart) }
        self.lastByte = lastByte
        arrivalOrder = (0..<n).sorted { (lastByte[$0], $0) < (lastByte[$1], $1) }
        arrived = [Bool](repeating: false, count: n)
    }

    /// Whether the units' scratch is still held (the server counts such streams against its limit).
    public var holdsScratch: Bool { lock.locked { work != nil } }

    /// The body's first `bytes` bytes are in place: the units they complete become ready.
    /// Returns whether any unit is ready to run.
    @discardableResult
    public func received(_ bytes: Int) -> Bool {
        lock.locked {
            guard !stopping, !cancelled else { return false }
            arrive(upTo: bytes)
            return readyHead < ready.count
        }
    }

    /// How many units `runReadyUnits` would find ready now.
    public var readyUnits: Int { lock.locked { stopping || cancelled ? 0 : ready.count - readyHead } }

    /// Runs ready units on the calling thread until none is ready, the body is complete, the
    /// stream is cancelled, or `yield()` says the thread is wanted elsewhere (checked between
    /// units, so a waiting job waits for one unit at most). Several threads may call it at once.
    public func runReadyUnits(yield: () -> Bool) {
        guard let work = lock.locked({ stopping || cancelled ? nil : work }) else { return }
        let ws = work.workspace()
        while !yield(), let unit = claim(waiting: false) { run(unit, of: work, in: ws) }
    }

    /// No unit starts after this; the scratch goes back to the pool when the running ones
    /// return, and the body with the last reference.
    public func cancel() {
        let dropped = lock.locked { () -> CompressionWork? in
            cancelled = true
            return running == 0 ? takeWork() : nil
        }
        _ = dropped
    }

    /// The whole body is in: runs the remaining units on the pool and returns the result.
    public func finish() throws(OmniZipError) -> CompressionResult {
        let clock = ContinuousClock(), start = clock.now
        // `runReadyUnits` stops claiming; a unit it still runs is waited for like any other.
        guard
            let work = lock.locked({ () -> CompressionWork? in
                stopping = true
                arrive(upTo: .max)
                return self.work
            })
        else { preconditionFailure("StreamingCompression.finish after cancel") }
        pool.run(units: pool.width, prepare: { _ in work.workspace() }) { ws, _ in
            while let unit = claim(waiting: true) { run(unit, of: work, in: ws) }
        }
        timings.video = (clock.now - start).seconds
        _ = lock.locked { takeWork() }
        return try work.finish(pool: pool, timings: timings)
    }

    /// Caller holds the lock.
    private func arrive(upTo bytes: Int) {
        received = max(received, bytes)
        while nextArrival < arrivalOrder.count, lastByte[arrivalOrder[nextArrival]] <= received {
            let unit = arrivalOrder[nextArrival]
            nextArrival += 1
            arrived[unit] = true
            if unmet[unit] == 0 { ready.append(unit) }
        }
    }

    /// Caller holds the lock.
    private func takeWork() -> CompressionWork? {
        defer { work = nil }
        return work
    }

    /// The next ready unit, counted as running. `runReadyUnits` (`waiting` false) takes none
    /// once the body is complete or the stream cancelled; the finishing workers wait while
    /// running units may still free one.
    private func claim(waiting: Bool) -> Int? {
        lock.locked {
            while true {
                if waiting || (!stopping && !cancelled), readyHead < ready.count {
                    readyHead += 1
                    running += 1
                    return ready[readyHead - 1]
                }
                guard waiting, done < total else { return nil }
                lock.wait()
            }
        }
    }

    private func run(_ unit: Int, of work: CompressionWork, in ws: CompressionWork.Workspace) {
        work.run(unit, in: ws)
        let dropped = lock.locked { () -> CompressionWork? in
            running -= 1
            done += 1
            for next in dependents[unit] {
                unmet[next] -= 1
                if unmet[next] == 0, arrived[next] { ready.append(next) }
            }
            lock.broadcast()
            return cancelled && running == 0 ? takeWork() : nil
        }
        _ = dropped // its scratch goes back to the pool here, outside the lock
    }
}
