/// Strict UTF-8 check (no overlongs, no surrogates, nothing above U+10FFFF).
/// Written out by hand so the error can report the offset of the first bad byte.
enum UTF8Validation {
    /// Offset of the first byte that starts an invalid sequence, or nil if `bytes` is valid.
    static func firstInvalidOffset(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        var i = 0
        while i < count {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            // Allowed range of the second byte narrows for E0, ED, F0, F4 to exclude
            // overlongs, surrogates and code points past U+10FFFF.
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondLow = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondHigh = 0x9F
            case 0xF0: length = 4; secondLow = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondHigh = 0x8F
            default: return i
            }
            guard count - i >= length else { return i }
            let second = bytes[i + 1]
            guard second >= secondLow && second <= secondHigh else { return i }
            var k = 2
            while k < length {
                guard bytes[i + k] & 0xC0 == 0x80 else { return i }
                k += 1
            }
            i += length
        }
        return nil
    }
}
