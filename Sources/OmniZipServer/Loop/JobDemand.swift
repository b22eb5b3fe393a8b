import Synchronization

/// How many complete requests wait for a worker: written by the loop, read by pump jobs between
/// two units (a relaxed read: a pump that misses an update gives way one unit later).
final class JobDemand: Sendable {
    let count = Atomic<Int>(0)
}
