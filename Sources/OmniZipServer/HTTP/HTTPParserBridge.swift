import CHTTPParser

/// What http_parser's callbacks are turned into (ConnectionCore+Parsing).
protocol HTTPParserEvents: AnyObject {
    func onMessageBegin() -> Int32
    func onURL(_ bytes: UnsafeRawBufferPointer) -> Int32
    func onHeaderField(_ bytes: UnsafeRawBufferPointer) -> Int32
    func onHeaderValue(_ bytes: UnsafeRawBufferPointer) -> Int32
    func onHeadersComplete() -> Int32
    func onChunkHeader() -> Int32
    func onBody(_ bytes: UnsafeRawBufferPointer) -> Int32
    func onMessageComplete() -> Int32
}

/// http_parser's callbacks, turned into calls on the core whose parser it is (`parser.data`
/// holds its `Target`, unretained: the core owns both the parser and the target).
enum HTTPParserBridge {
    /// The core behind a parser, reached from C without knowing the core's clock type.
    final class Target {
        unowned(unsafe) var core: (any HTTPParserEvents)?
    }

    /// Written once here, then only read (by the loop thread).
    nonisolated(unsafe) static let settings: UnsafeMutablePointer<http_parser_settings> = {
        let s = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
        http_parser_settings_init(s)
        s.pointee.on_message_begin = { p in connection(p)?.onMessageBegin() ?? 0 }
        s.pointee.on_url = { p, at, n in connection(p)?.onURL(bytes(at, n)) ?? 0 }
        s.pointee.on_header_field = { p, at, n in connection(p)?.onHeaderField(bytes(at, n)) ?? 0 }
        s.pointee.on_header_value = { p, at, n in connection(p)?.onHeaderValue(bytes(at, n)) ?? 0 }
        s.pointee.on_headers_complete = { p in connection(p)?.onHeadersComplete() ?? 0 }
        s.pointee.on_chunk_header = { p in connection(p)?.onChunkHeader() ?? 0 }
        s.pointee.on_body = { p, at, n in connection(p)?.onBody(bytes(at, n)) ?? 0 }
        s.pointee.on_message_complete = { p in connection(p)?.onMessageComplete() ?? 0 }
        return s
    }()

    private static func connection(_ parser: UnsafeMutablePointer<http_parser>?) -> (any HTTPParserEvents)? {
        guard let data = parser?.pointee.data else { return nil }
        return Unmanaged<Target>.fromOpaque(data).takeUnretainedValue().core
    }

    private static func bytes(_ at: UnsafePointer<CChar>?, _ n: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: at, count: at == nil ? 0 : n)
    }

    /// http_parser reports a chunk size too large for 64 bits as a bad Content-Length.
    static func errorDescription(_ code: UInt32, chunked: Bool) -> String {
        if code == HPE_INVALID_CONTENT_LENGTH.rawValue, chunked { return "invalid chunk size (not hexadecimal, or too large)" }
        return String(cString: http_errno_description(http_errno(rawValue: code)))
    }

    static let maxURLBytes = 8192

    static func methodName(_ code: UInt32) -> String {
        String(cString: http_method_str(http_method(rawValue: code)))
    }

    /// Path and query of the request target (origin form `/p?q`, absolute form
    /// `http://host/p?q`, or `*`), split by http_parser's own URL parser; nil if it is not a URL.
    static func splitTarget(_ url: [UInt8]) -> (path: String, query: ArraySlice<UInt8>)? {
        if url == [UInt8(ascii: "*")] { return ("*", []) }
        var fields = http_parser_url()
        http_parser_url_init(&fields)
        let failed = url.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { http_parser_parse_url($0.baseAddress, $0.count, 0, &fields) != 0 }
        }
        guard !failed else { return nil }
        func field(_ f: http_parser_url_fields) -> ArraySlice<UInt8>? {
            var offset: UInt16 = 0, length: UInt16 = 0
            guard omnizip_url_field(&fields, f, &offset, &length) != 0 else { return nil }
            return url[Int(offset)..<Int(offset) + Int(length)]
        }
        let path = field(UF_PATH).map { String(decoding: $0, as: UTF8.self) } ?? "/"
        return (path, field(UF_QUERY) ?? [])
    }
}
