import COmniZipKernels

/// Element types a request's embeddings may arrive in (little-endian).
public enum ElementType: String, Sendable, CaseIterable {
    case float32, float16, bfloat16

    public var byteWidth: Int { self == .float32 ? 4 : 2 }
}

/// Borrowed, row-major token embeddings in caller memory, seen through a list of row indices
/// (an interleaved prompt's audio rows are scattered). Nothing is copied until a worker widens
/// the rows it needs; loads are unaligned-safe.
public struct TokenRows: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let elementType: ElementType
    public let dimension: Int
    /// Physical row of each logical token.
    public let rowIndices: [Int]

    /// `base` must stay valid and unchanged while the rows are in use.
    public init(base: UnsafeRawPointer, elementType: ElementType, dimension: Int, rowIndices: [Int]) {
        self.base = base
        self.elementType = elementType
        self.dimension = dimension
        self.rowIndices = rowIndices
    }

    public var count: Int { rowIndices.count }

    /// Address of logical row `row`'s first element.
    @inline(__always)
    func address(_ row: Int) -> UnsafeRawPointer { base + rowIndices[row] * rowBytes }
    var rowBytes: Int { dimension * elementType.byteWidth }

    /// Widens logical row `row` exactly to Float32 and returns whether every value is finite.
    @inline(__always)
    func widen(_ row: Int, into destination: UnsafeMutablePointer<Float>) -> Bool {
        let source = address(row), d = dimension
        switch elementType {
        case .float32: return omnizip_copy_f32(source, d, destination) != 0
        case .bfloat16: return omnizip_widen_bf16(source, d, destination) != 0
        case .float16: return omnizip_widen_f16(source, d, destination) != 0
        }
    }
}
