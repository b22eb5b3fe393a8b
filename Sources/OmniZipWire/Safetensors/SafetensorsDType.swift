/// Element types defined by the safetensors format, spelled as they appear in the header.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .bool, .u8, .i8: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: true
        default: false
        }
    }

    public var isInteger: Bool {
        switch self {
        case .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: true
        default: false
        }
    }
}
