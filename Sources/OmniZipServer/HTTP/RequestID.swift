import Synchronization

/// Request ids: the client's `X-Request-Id` when it is sane, else 16 hex digits unique within
/// the process (a counter pushed through a bijection of UInt64, so ids look random but never
/// repeat before 2^64 requests).
enum RequestID {
    private static let counter = Atomic<UInt64>(0)
    private static let salt = UInt64.random(in: .min ... .max)

    static func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let mixed = (n &* 0x9E37_79B9_7F4A_7C15) ^ salt
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { out[i] = hex[Int((mixed >> UInt64(60 - 4 * i)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Echo only what is safe in a header and a log line: 1 to 128 visible ASCII characters.
    static func accepting(_ header: [UInt8]) -> String? {
        guard !header.isEmpty, header.count <= 128, header.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: header, as: UTF8.self)
    }
}
