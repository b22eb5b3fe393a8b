extension UnsafeRawBufferPointer {
    /// Loads a little-endian integer at any byte offset (safetensors data need not be aligned).
    /// Traps if `offset ..< offset + size` is outside the buffer.
    @inlinable
    public func loadLE<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        precondition(offset >= 0 && offset <= count - MemoryLayout<T>.size, "loadLE: offset \(offset) out of bounds for \(count)-byte buffer")
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Exact widening of bfloat16, which the standard library lacks (binary16 widens through the
/// standard library's `Float16`).
public enum HalfPrecision {
    /// bfloat16 is the top half of a Float.
    @inlinable
    public static func float(fromBF16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
