/// Typed element access for small tensors (labels, scores, configuration). These copy into
/// Swift arrays; for large tensors use `bytes(of:in:)` and read in place.
extension SafetensorsFile {
    /// The bytes of `tensor` within `file`, which must be the buffer this value was parsed from.
    public func bytes(of tensor: SafetensorsTensor, in file: UnsafeRawBufferPointer) throws(SafetensorsError) -> UnsafeRawBufferPointer {
        guard file.count == fileByteCount else {
            throw SafetensorsError("tensor \(quoted(tensor.name)): buffer is \(file.count) bytes but the parsed file was \(fileByteCount)")
        }
        guard tensor.dataRange.lowerBound >= headerByteCount, tensor.dataRange.upperBound <= file.count else {
            throw SafetensorsError("tensor \(quoted(tensor.name)): byte range \(tensor.dataRange) is not inside this file's data section")
        }
        return UnsafeRawBufferPointer(rebasing: file[tensor.dataRange])
    }

    /// Integer tensors of any integer dtype as Int64. A U64 element above Int64.max is an error.
    public func int64Values(_ tensor: SafetensorsTensor, in file: UnsafeRawBufferPointer) throws(SafetensorsError) -> [Int64] {
        let raw = try bytes(of: tensor, in: file)
        let n = tensor.elementCount
        switch tensor.dtype {
        case .u8: return (0..<n).map { Int64(raw.loadLE(at: $0, as: UInt8.self)) }
        case .i8: return (0..<n).map { Int64(raw.loadLE(at: $0, as: Int8.self)) }
        case .u16: return (0..<n).map { Int64(raw.loadLE(at: $0 * 2, as: UInt16.self)) }
        case .i16: return (0..<n).map { Int64(raw.loadLE(at: $0 * 2, as: Int16.self)) }
        case .u32: return (0..<n).map { Int64(raw.loadLE(at: $0 * 4, as: UInt32.self)) }
        case .i32: return (0..<n).map { Int64(raw.loadLE(at: $0 * 4, as: Int32.self)) }
        case .i64: return (0..<n).map { raw.loadLE(at: $0 * 8, as: Int64.self) }
        case .u64:
            var values: [Int64] = []
            values.reserveCapacity(n)
            for i in 0..<n {
                let value = raw.loadLE(at: i * 8, as: UInt64.self)
                guard let exact = Int64(exactly: value) else {
                    throw SafetensorsError("tensor \(quoted(tensor.name)): U64 element \(i) is \(value), which does not fit Int64")
                }
                values.append(exact)
            }
            return values
        case .bool, .f16, .bf16, .f32, .f64:
            throw SafetensorsError("tensor \(quoted(tensor.name)) is \(tensor.dtype.rawValue), not an integer dtype")
        }
    }

    /// F32, F16 and BF16 tensors as Float, widened exactly. F64 is refused (it would round);
    /// use `doubleValues`.
    public func floatValues(_ tensor: SafetensorsTensor, in file: UnsafeRawBufferPointer) throws(SafetensorsError) -> [Float] {
        let raw = try bytes(of: tensor, in: file)
        let n = tensor.elementCount
        switch tensor.dtype {
        case .f32: return (0..<n).map { Float(bitPattern: raw.loadLE(at: $0 * 4, as: UInt32.self)) }
        case .f16: return (0..<n).map { Float(Float16(bitPattern: raw.loadLE(at: $0 * 2, as: UInt16.self))) }
        case .bf16: return (0..<n).map { HalfPrecision.float(fromBF16Bits: raw.loadLE(at: $0 * 2, as: UInt16.self)) }
        default:
            throw SafetensorsError("tensor \(quoted(tensor.name)) is \(tensor.dtype.rawValue); floatValues reads only F32, F16 and BF16")
        }
    }

    /// Any floating-point tensor (F64, F32, F16, BF16) as Double, widened exactly.
    public func doubleValues(_ tensor: SafetensorsTensor, in file: UnsafeRawBufferPointer) throws(SafetensorsError) -> [Double] {
        if tensor.dtype == .f64 {
            let raw = try bytes(of: tensor, in: file)
            return (0..<tensor.elementCount).map { Double(bitPattern: raw.loadLE(at: $0 * 8, as: UInt64.self)) }
        }
        guard tensor.dtype.isFloatingPoint else {
            throw SafetensorsError("tensor \(quoted(tensor.name)) is \(tensor.dtype.rawValue), not a floating-point dtype")
        }
        return try floatValues(tensor, in: file).map(Double.init)
    }

    /// BOOL tensors. Each byte must be 0 or 1, as numpy and torch write them.
    public func boolValues(_ tensor: SafetensorsTensor, in file: UnsafeRawBufferPointer) throws(SafetensorsError) -> [Bool] {
        guard tensor.dtype == .bool else {
            throw SafetensorsError("tensor \(quoted(tensor.name)) is \(tensor.dtype.rawValue), not BOOL")
        }
        let raw = try bytes(of: tensor, in: file)
        var values: [Bool] = []
        values.reserveCapacity(raw.count)
        for (i, byte) in raw.enumerated() {
            guard byte <= 1 else {
                throw SafetensorsError("tensor \(quoted(tensor.name)): BOOL element \(i) has byte value \(byte); expected 0 or 1")
            }
            values.append(byte == 1)
        }
        return values
    }
}
