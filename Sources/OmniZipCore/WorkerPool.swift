import Dispatch
import Synchronization

/// Runs independent work units on up to `width` threads of the Dispatch pool. Units are claimed
/// dynamically, and every unit writes only its own result slot, so the output never depends on
/// how many workers ran or which one took which unit.
public struct WorkerPool: Sendable {
    public let width: Int
    /// The nice value each thread taking part sets for itself (0: left as it is).
    public let niceness: Int32
    /// Where the workers' scratch comes from, kept from one run to the next.
    public let buffers: BufferPool

    public init(width: Int, niceness: Int32 = 0, buffers: BufferPool = BufferPool()) {
        self.width = max(1, width)
        self.niceness = niceness
        self.buffers = buffers
        _ = Kernels.singleThreadedBLAS
    }

    /// Calls `body(worker, unit)` for each unit in `0..<units`. `prepare(worker)` makes the
    /// worker's scratch state once, so no unit allocates. `alongside`, a job that does not split
    /// (one BLAS call), is claimed before the first unit, so the other workers' units hide it.
    public func run<Scratch>(
        units: Int, alongside: (() -> Void)? = nil, prepare: (Int) -> Scratch, _ body: (inout Scratch, Int) -> Void
    ) {
        let first = alongside == nil ? 0 : -1
        guard units - first > 0 else { return }
        let workers = min(width, units - first)
        if workers == 1 {
            ThreadPriority.lower(to: niceness)
            alongside?()
            guard units > 0 else { return }
            var scratch = prepare(0)
            for unit in 0..<units { body(&scratch, unit) }
            return
        }
        let next = Atomic<Int>(first)
        withoutActuallyEscaping(prepare) { prepare in
            withoutActuallyEscaping(body) { body in
                let call = UncheckedSendable((prepare, body, alongside))
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    ThreadPriority.lower(to: niceness)
                    var scratch: Scratch?
                    while true {
                        let unit = next.add(1, ordering: .relaxed).oldValue
                        if unit >= units { break }
                        if unit < 0 {
                            call.value.2?()
                            continue
                        }
                        if scratch == nil { scratch = call.value.0(worker) }
                        call.value.1(&scratch!, unit)
                    }
                }
            }
        }
    }
}

/// Closures handed to the pool only touch disjoint slots; Swift cannot see that.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
