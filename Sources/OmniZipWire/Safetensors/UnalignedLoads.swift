extension UnsafeRawBufferPointer {
    /// Loads a little-endian integer at any byte offset (safetensors data need not be aligned).
    /// Traps if `offset ..< offset + size` is outside the buffer.
    @inlinable
    public func loadLE<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        precondition(offset >= 0 && offset <= count - MemoryLayout<T>.size, "loadLE: offset \(offset) out of bounds for \(count)-byte buffer")
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Exact widening conversions for the 16-bit float formats, done on bits so they work on every
/// platform (Float16 is unavailable on some) and never round.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits to Float. Every half value, including subnormals, infinities and
    /// NaN payloads, is representable in Float.
    @inlinable
    public static func float(fromF16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:
            // Zero or subnormal: mantissa * 2^-24; both factors are exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// bfloat16 is the top half of a Float.
    @inlinable
    public static func float(fromBF16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
