/// The reference is Python; these reproduce its integer conversions exactly.
enum PythonArithmetic {
    /// Python's `round(x)` on a float: half to even.
    static func roundHalfEven(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// Python's `int(x)` on a float: truncation toward zero, saturated for safety.
    static func truncate(_ x: Double) -> Int {
        guard x.isFinite else { return 0 }
        if x >= Double(Int.max) { return Int.max }
        if x <= Double(Int.min) { return Int.min }
        return Int(x)
    }
}
