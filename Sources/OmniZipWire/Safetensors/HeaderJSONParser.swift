/// A strict JSON parser for safetensors headers (RFC 8259 grammar, no extensions).
///
/// Differences from a general-purpose parser, all deliberate:
/// - the document must start with `{` and may be followed only by ASCII spaces (the padding
///   the reference writer emits); a leading BOM or whitespace is rejected;
/// - duplicate keys in any object are an error, so two readers can never disagree on a value;
/// - nesting depth is bounded, so hostile input cannot exhaust the stack;
/// - the input must already be valid UTF-8 (see `UTF8Validation`), so string slices can be
///   decoded without repair.
struct HeaderJSONParser {
    static let defaultMaxDepth = 64

    // Internal rather than private so the string decoding in HeaderJSONParser+String.swift can use them.
    let bytes: UnsafeRawBufferPointer
    private let maxDepth: Int
    var index = 0

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses a whole header: one object followed by optional space padding.
    static func parseHeader(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth
    ) throws(SafetensorsError) -> [HeaderJSONMember] {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            throw SafetensorsError("header starts with a UTF-8 byte order mark; the JSON must start directly with '{'")
        }
        guard let first = bytes.first else {
            throw SafetensorsError("header is empty; expected a JSON object")
        }
        guard first == UInt8(ascii: "{") else {
            throw SafetensorsError("header must be a JSON object starting with '{', but it starts with \(describeByte(first))")
        }
        var parser = HeaderJSONParser(bytes: bytes, maxDepth: maxDepth)
        guard case .object(let members) = try parser.parseValue(depth: 0) else {
            throw SafetensorsError("header top level is not a JSON object") // unreachable: starts with '{'
        }
        while parser.index < bytes.count {
            let byte = bytes[parser.index]
            guard byte == 0x20 else {
                throw SafetensorsError(
                    "header has trailing data after the JSON object at header offset \(parser.index) (\(describeByte(byte))); only ASCII spaces may pad the header"
                )
            }
            parser.index += 1
        }
        return members
    }

    /// Parses any single JSON value that makes up the whole input (tests and diagnostics).
    static func parseValue(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth
    ) throws(SafetensorsError) -> HeaderJSON {
        var parser = HeaderJSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw parser.syntaxError("unexpected \(describeByte(bytes[parser.index])) after the JSON value")
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue(depth: Int) throws(SafetensorsError) -> HeaderJSON {
        guard index < bytes.count else { throw syntaxError("expected a value but the header ended") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case let other: throw syntaxError("expected a value, found \(describeByte(other))")
        }
    }

    private mutating func parseObject(depth: Int) throws(SafetensorsError) -> HeaderJSON {
        try checkDepth(depth)
        index += 1 // '{'
        var members: [HeaderJSONMember] = []
        // Tensor entries have three keys, so a linear scan beats hashing; a set takes over
        // once an object grows (the top level of a large checkpoint).
        var seen: Set<String>?
        skipWhitespace()
        if consumeIf(UInt8(ascii: "}")) { return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw syntaxError("expected a string key in object, found \(describeCurrent())")
            }
            let keyOffset = index
            let key = try parseString()
            guard isNewKey(key, in: members, seen: &seen, depth: depth) else {
                throw SafetensorsError("header JSON has duplicate key \(quoted(key)) at header offset \(keyOffset)")
            }
            skipWhitespace()
            guard consumeIf(UInt8(ascii: ":")) else {
                throw syntaxError("expected ':' after key \(quoted(key)), found \(describeCurrent())")
            }
            skipWhitespace()
            members.append(HeaderJSONMember(key: key, value: try parseValue(depth: depth)))
            skipWhitespace()
            if consumeIf(UInt8(ascii: ",")) { continue }
            if consumeIf(UInt8(ascii: "}")) { return .object(members) }
            throw syntaxError("expected ',' or '}' after the value of \(quoted(key)), found \(describeCurrent())")
        }
    }

    private func isNewKey(_ key: String, in members: [HeaderJSONMember], seen: inout Set<String>?, depth: Int) -> Bool {
        if seen == nil {
            if members.count < 8 {
                return !members.contains { $0.key == key }
            }
            // Size the top-level set from the header length (an entry takes at least ~50 bytes)
            // so a checkpoint with many tensors is not rehashed over and over.
            var keys = Set<String>(minimumCapacity: depth == 1 ? bytes.count / 64 : 16)
            for member in members { keys.insert(member.key) }
            seen = keys
        }
        return seen?.insert(key).inserted ?? true
    }

    private mutating func parseArray(depth: Int) throws(SafetensorsError) -> HeaderJSON {
        try checkDepth(depth)
        index += 1 // '['
        var elements: [HeaderJSON] = []
        skipWhitespace()
        if consumeIf(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if consumeIf(UInt8(ascii: ",")) { continue }
            if consumeIf(UInt8(ascii: "]")) { return .array(elements) }
            throw syntaxError("expected ',' or ']' in array, found \(describeCurrent())")
        }
    }

    /// Classifies the literal instead of converting it: only plain digit strings that fit Int
    /// become numbers the schema can use; everything else is kept as text for the error.
    private mutating func parseNumber() throws(SafetensorsError) -> HeaderJSON {
        let start = index
        var isPlainInteger = true
        if bytes[index] == UInt8(ascii: "-") {
            isPlainInteger = false
            index += 1
        }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw syntaxError("expected a digit in number, found \(describeCurrent())")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw syntaxError("numbers may not have leading zeros")
            }
        } else {
            skipDigits()
        }
        let integerEnd = index
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isPlainInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw syntaxError("expected a digit after the decimal point, found \(describeCurrent())")
            }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            isPlainInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw syntaxError("expected a digit in the exponent, found \(describeCurrent())")
            }
            skipDigits()
        }
        if isPlainInteger, let value = Self.integerValue(bytes[start..<integerEnd]) {
            return .nonNegativeInteger(value)
        }
        return .otherNumber(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private static func integerValue(_ digits: Slice<UnsafeRawBufferPointer>) -> Int? {
        var value = 0
        for digit in digits {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.addingReportingOverflow(Int(digit &- UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    private mutating func expectLiteral(_ word: StaticString) throws(SafetensorsError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw syntaxError("invalid literal; expected \(word)") }
        for k in 0..<count where bytes[index + k] != word.utf8Start[k] {
            throw syntaxError("invalid literal; expected \(word)")
        }
        index += count
    }

    // MARK: - Helpers

    private func checkDepth(_ depth: Int) throws(SafetensorsError) {
        if depth > maxDepth {
            throw SafetensorsError("header JSON nests deeper than \(maxDepth) levels at header offset \(index)")
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private mutating func consumeIf(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    func describeCurrent() -> String {
        index < bytes.count ? describeByte(bytes[index]) : "the end of the header"
    }

    func syntaxError(_ problem: String, at offset: Int? = nil) -> SafetensorsError {
        SafetensorsError("header is not valid JSON at header offset \(offset ?? index): \(problem)")
    }
}
