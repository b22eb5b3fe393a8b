import OmniZipCore

/// Narrowing float32 results back to the request's dtype (round to nearest, ties to even).
/// `store` and `dtype` are public for OmniZipSynthetic, which writes requests in any dtype.
public enum ElementConversion {
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// Writes `values` into `destination` as `type`, little-endian.
    public static func store(_ values: UnsafeBufferPointer<Float>, as type: ElementType, into destination: UnsafeMutableRawPointer) {
        switch type {
        case .float32:
            for (i, v) in values.enumerated() { destination.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .bfloat16:
            for (i, v) in values.enumerated() { destination.storeBytes(of: bfloat16Bits(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .float16:
            for (i, v) in values.enumerated() { destination.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        }
    }

    public static func dtype(_ type: ElementType) -> SafetensorsDType {
        switch type {
        case .float32: .f32
        case .float16: .f16
        case .bfloat16: .bf16
        }
    }
}
