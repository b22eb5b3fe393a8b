/// Summary statistics of one tensor's values, read in place (no copy of large tensors): what
/// `omnizip inspect` prints so a request can be sanity-checked without code.
public struct TensorStats: Sendable, Equatable {
    /// Elements read.
    public var count = 0
    /// Smallest and largest finite value, as JSON number text in the tensor's own precision
    /// (so an F32 0.1 prints as 0.1 and an I64 id exactly); nil when there is none.
    public var min: String?
    public var max: String?
    /// Mean of the finite values (double accumulation).
    public var mean: Double?
    /// NaN and infinite elements (floating point only): the server refuses them in scores and embeddings.
    public var nonFinite = 0
    /// BOOL tensors: how many are true.
    public var trueCount: Int?

    /// nil for a dtype without a numeric reading, or when the bytes are not this tensor's.
    public init?(_ tensor: SafetensorsTensor, in file: SafetensorsFile, bytes: UnsafeRawBufferPointer) {
        guard let raw = try? file.bytes(of: tensor, in: bytes) else { return nil }
        let n = tensor.elementCount
        count = n
        switch tensor.dtype {
        case .bool:
            var trues = 0
            for i in 0..<n where raw[i] != 0 { trues += 1 }
            trueCount = trues
            mean = n > 0 ? Double(trues) / Double(n) : nil
            if n > 0 { min = trues == n ? "true" : "false"; max = trues > 0 ? "true" : "false" }
        case .f32: floats(n) { Float(bitPattern: raw.loadLE(at: $0 * 4, as: UInt32.self)) }
        case .f16: floats(n) { Float(Float16(bitPattern: raw.loadLE(at: $0 * 2, as: UInt16.self))) }
        case .bf16: floats(n) { HalfPrecision.float(fromBF16Bits: raw.loadLE(at: $0 * 2, as: UInt16.self)) }
        case .f64: doubles(n) { Double(bitPattern: raw.loadLE(at: $0 * 8, as: UInt64.self)) }
        case .u8: integers(n) { Int64(raw.loadLE(at: $0, as: UInt8.self)) }
        case .i8: integers(n) { Int64(raw.loadLE(at: $0, as: Int8.self)) }
        case .u16: integers(n) { Int64(raw.loadLE(at: $0 * 2, as: UInt16.self)) }
        case .i16: integers(n) { Int64(raw.loadLE(at: $0 * 2, as: Int16.self)) }
        case .u32: integers(n) { Int64(raw.loadLE(at: $0 * 4, as: UInt32.self)) }
        case .i32: integers(n) { Int64(raw.loadLE(at: $0 * 4, as: Int32.self)) }
        case .i64: integers(n) { raw.loadLE(at: $0 * 8, as: Int64.self) }
        case .u64:
            // Kept unsigned so values above Int64.max print exactly.
            var lo = UInt64.max, hi = UInt64.min, sum = 0.0
            for i in 0..<n {
                let v = raw.loadLE(at: i * 8, as: UInt64.self)
                lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += Double(v)
            }
            if n > 0 { min = String(lo); max = String(hi); mean = sum / Double(n) }
        }
    }

    private mutating func integers(_ n: Int, _ value: (Int) -> Int64) {
        var lo = Int64.max, hi = Int64.min, sum = 0.0
        for i in 0..<n {
            let v = value(i)
            lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += Double(v)
        }
        if n > 0 { min = String(lo); max = String(hi); mean = sum / Double(n) }
    }

    private mutating func floats(_ n: Int, _ value: (Int) -> Float) {
        var lo = Float.infinity, hi = -Float.infinity, sum = 0.0, finite = 0
        for i in 0..<n {
            let v = value(i)
            guard v.isFinite else { nonFinite += 1; continue }
            lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += Double(v); finite += 1
        }
        if finite > 0 { min = lo.description; max = hi.description; mean = sum / Double(finite) }
    }

    private mutating func doubles(_ n: Int, _ value: (Int) -> Double) {
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, finite = 0
        for i in 0..<n {
            let v = value(i)
            guard v.isFinite else { nonFinite += 1; continue }
            lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += v; finite += 1
        }
        if finite > 0 { min = lo.description; max = hi.description; mean = sum / Double(finite) }
    }
}
