/// Deterministic pseudo-random floats in [-1, 1) from a 64-bit LCG. Kept as it is (not on
/// `SeededRandom`): tests' expectations were worked out on exactly these values.
public func noise(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
    }
}
