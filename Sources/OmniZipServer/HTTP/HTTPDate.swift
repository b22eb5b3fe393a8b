#if canImport(Glibc)
    import Glibc
#endif
import OmniZipWire

/// The IMF-fixdate for the Date header, recomputed at most once a second.
struct HTTPDate {
    private var second = -1
    private var text = ""

    mutating func now() -> String {
        var t = time(nil)
        if Int(t) == second { return text }
        second = Int(t)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text
    }
}
