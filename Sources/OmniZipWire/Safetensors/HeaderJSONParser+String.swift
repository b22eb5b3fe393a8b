extension HeaderJSONParser {
    /// Parses a string starting at the opening quote. Strings without escapes (nearly all of
    /// them in real headers) are decoded straight from the input slice.
    mutating func parseString() throws(SafetensorsError) -> String {
        let openQuote = index
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw syntaxError("strings may not contain raw control character \(describeByte(byte)); it must be escaped") }
            index += 1
        }
        guard index < bytes.count else {
            throw syntaxError("string is not terminated before the end of the header", at: openQuote)
        }
        var utf8 = [UInt8](bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &utf8)
            case 0..<0x20:
                throw syntaxError("strings may not contain raw control character \(describeByte(byte)); it must be escaped")
            default:
                utf8.append(byte)
                index += 1
            }
        }
        throw syntaxError("string is not terminated before the end of the header", at: openQuote)
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(SafetensorsError) {
        let escapeStart = index
        index += 1 // backslash
        guard index < bytes.count else { throw syntaxError("escape sequence cut off by the end of the header", at: escapeStart) }
        let letter = bytes[index]
        index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(letter)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape(escapeStart: escapeStart)
            UTF8.encode(scalar) { utf8.append($0) }
        default:
            throw syntaxError("invalid escape sequence in string: backslash followed by \(describeByte(letter))", at: escapeStart)
        }
    }

    /// Decodes the XXXX after `\u`, pairing a high surrogate with the `\uXXXX` low surrogate that
    /// must follow it. Lone surrogates are rejected: they have no UTF-8 encoding.
    private mutating func parseUnicodeEscape(escapeStart: Int) throws(SafetensorsError) -> Unicode.Scalar {
        let first = try parseHex4(escapeStart: escapeStart)
        switch first {
        case 0xD800...0xDBFF:
            let lowStart = index
            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw syntaxError("high surrogate \\u\(hex4(first)) is not followed by a \\u low surrogate", at: escapeStart)
            }
            index += 2
            let second = try parseHex4(escapeStart: lowStart)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw syntaxError("high surrogate \\u\(hex4(first)) is followed by \\u\(hex4(second)), which is not a low surrogate", at: escapeStart)
            }
            let value = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else {
                throw syntaxError("invalid surrogate pair", at: escapeStart) // unreachable: pair math stays in range
            }
            return scalar
        case 0xDC00...0xDFFF:
            throw syntaxError("lone low surrogate \\u\(hex4(first)) in string", at: escapeStart)
        default:
            guard let scalar = Unicode.Scalar(UInt32(first)) else {
                throw syntaxError("invalid \\u escape", at: escapeStart) // unreachable: surrogates handled above
            }
            return scalar
        }
    }

    private mutating func parseHex4(escapeStart: Int) throws(SafetensorsError) -> UInt16 {
        guard bytes.count - index >= 4 else {
            throw syntaxError("\\u escape needs four hex digits", at: escapeStart)
        }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntaxError("\\u escape needs four hex digits, found \(describeByte(byte))", at: escapeStart)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private func hex4(_ value: UInt16) -> String {
        hex2(UInt8(value >> 8)) + hex2(UInt8(value & 0xFF))
    }
}
