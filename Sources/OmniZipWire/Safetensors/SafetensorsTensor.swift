/// One tensor entry of a parsed file. Holds no bytes: `dataRange` indexes the caller's buffer.
public struct SafetensorsTensor: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Absolute byte range within the whole file buffer (header included).
    public let dataRange: Range<Int>
    /// Product of `shape` (1 for a scalar, 0 if any dimension is 0); checked for overflow when parsed.
    public let elementCount: Int

    init(name: String, dtype: SafetensorsDType, shape: [Int], dataRange: Range<Int>, elementCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataRange = dataRange
        self.elementCount = elementCount
    }

    public var byteCount: Int { dataRange.count }
}

/// Element count of a shape, or nil if a dimension is negative or the product overflows Int.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var product = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: dim)
        guard !overflow else { return nil }
        product = next
    }
    return product
}

func describeShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
