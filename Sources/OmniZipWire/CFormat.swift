#if canImport(Glibc)
    import Glibc
#endif

/// printf-style formatting through the C library (`%.3f`, `%.6g`), without Foundation.
public func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 64)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        guard needed >= buffer.count else { return String(decoding: buffer[0..<max(0, needed)].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        // Rare: print again into a buffer large enough.
        buffer = [CChar](repeating: 0, count: needed + 1)
        return withVaList(arguments) { again in
            _ = vsnprintf(&buffer, buffer.count, format, again)
            return String(decoding: buffer[0..<needed].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
