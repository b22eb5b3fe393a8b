import OmniZipWire

/// `a=1&b=2` with percent-decoding and `+` as space. Duplicates are refused: a parameter given
/// twice is ambiguous.
enum QueryString {
    struct Failure: Error {
        let code: ErrorCode
        let message: String
    }

    static func parse(_ bytes: ArraySlice<UInt8>) throws(Failure) -> [String: String] {
        var out: [String: String] = [:]
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try decode(parts[0])
            let value = parts.count > 1 ? try decode(parts[1]) : ""
            guard out[name] == nil else {
                throw Failure(code: .invalidParameter, message: "parameter '\(name)' is given more than once")
            }
            out[name] = value
        }
        return out
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) throws(Failure) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                    throw Failure(code: .invalidQuery, message: "the query string has a malformed percent escape")
                }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b == UInt8(ascii: "+") ? 0x20 : b)
                i += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw Failure(code: .invalidQuery, message: "the query string is not valid UTF-8 after percent-decoding")
        }
        return text
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
