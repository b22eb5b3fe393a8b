/// A worker's reusable float buffer, freed when the worker finishes.
final class Scratch {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    init(_ capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }
}
