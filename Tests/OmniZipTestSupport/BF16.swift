/// BF16 bit patterns for the parity rule, stated independently of the code under test.
enum BF16 {
    /// Round to nearest, ties to even, as torch does; NaN becomes the canonical quiet NaN.
    static func rounded(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// True when `a` and `b` are at most one representable value apart. Sign-magnitude bits are
    /// mapped onto one line first, so -0 and +0 coincide and the smallest values of either sign
    /// are neighbours; raw bit differences would call those 32768 apart.
    static func withinOneUlp(_ a: UInt16, _ b: UInt16) -> Bool {
        abs(line(a) - line(b)) <= 1
    }

    private static func line(_ h: UInt16) -> Int { h & 0x8000 != 0 ? -Int(h & 0x7FFF) : Int(h) }
}
