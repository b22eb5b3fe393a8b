/// The subset of JSON values a safetensors header can contain, as produced by `HeaderJSONParser`.
/// Objects keep member order (it is the writer's tensor order) and never hold duplicate keys.
enum HeaderJSON: Sendable, Equatable {
    case object([HeaderJSONMember])
    case array([HeaderJSON])
    case string(String)
    /// A literal of only digits that fits in Int. Sizes and offsets must be exactly this.
    case nonNegativeInteger(Int)
    /// Any other valid JSON number (sign, fraction, exponent, too large), kept as written so
    /// that errors can show it; the header schema never accepts one.
    case otherNumber(String)
    case bool(Bool)
    case null

    /// Short type name for error messages.
    var kindDescription: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .nonNegativeInteger(let n): "the integer \(n)"
        case .otherNumber(let text): "the number \(text.count > 40 ? String(text.prefix(40)) + "…" : text)"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }
}

struct HeaderJSONMember: Sendable, Equatable {
    let key: String
    let value: HeaderJSON
}
