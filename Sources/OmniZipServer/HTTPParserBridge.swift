import CHTTPParser

/// http_parser's callbacks, turned into calls on the `Connection` whose parser it is
/// (`parser.data` holds the connection, unretained: the connection owns the parser).
enum HTTPParserBridge {
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

    private static func connection(_ parser: UnsafeMutablePointer<http_parser>?) -> Connection? {
        guard let data = parser?.pointee.data else { return nil }
        return Unmanaged<Connection>.fromOpaque(data).takeUnretainedValue()
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

/// The parser's view of a connection: each callback feeds the exchange being received and
/// tells the state machine what happened.
extension Connection {
    func onMessageBegin() -> Int32 {
        guard beginRequest() != nil else { return 1 }
        headers = HeaderAccumulator()
        return 0
    }

    func onURL(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange = current else { return 0 }
        exchange.bytesIn += bytes.count
        if exchange.url.count <= HTTPParserBridge.maxURLBytes { exchange.url.append(contentsOf: bytes.prefix(HTTPParserBridge.maxURLBytes + 1 - exchange.url.count)) }
        return 0
    }

    func onHeaderField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        // RFC 9112 5.1: a field name is a token; whitespace before the colon must be refused,
        // or a proxy that ignores the field and this server would read different requests.
        if let bad = bytes.first(where: { !HeaderAccumulator.isTokenCharacter($0) }) {
            parseFailure = bad == 0x20 || bad == 0x09
                ? "whitespace between a header name and its colon"
                : "a header name has the invalid character 0x\(String(bad, radix: 16))"
            return 1
        }
        if let exchange = current { headers.addField(bytes, into: exchange) }
        return 0
    }

    func onHeaderValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        headers.addValue(bytes)
        return 0
    }

    func onHeadersComplete() -> Int32 {
        guard let exchange = current else { return 0 }
        headers.finish(into: exchange)
        exchange.bytesIn += headers.total
        exchange.headersComplete = true
        let p = parser.pointee
        exchange.method = HTTPParserBridge.methodName(UInt32(p.method))
        exchange.http10 = p.http_major == 1 && p.http_minor == 0
        if let id = exchange.requestIDHeader.flatMap(RequestID.accepting) { exchange.requestID = id }
        exchange.chunked = UInt32(p.flags) & F_CHUNKED.rawValue != 0
        let contentLength = UInt32(p.flags) & F_CONTENTLENGTH.rawValue != 0 ? Int(clamping: p.content_length) : nil
        exchange.contentLength = contentLength
        exchange.declaredLength = contentLength == nil ? nil : p.content_length
        let body: Machine.Body = exchange.chunked ? .chunked : (contentLength ?? 0) > 0 ? .length(contentLength!) : .none
        headersComplete(exchange, body: body, continueAllowed: exchange.expectsContinue && !exchange.http10)
        return 0
    }

    /// A chunk that would take the body past the limit is refused when announced, not when
    /// its bytes arrive (`content_length` holds the chunk's size here).
    func onChunkHeader() -> Int32 {
        guard let exchange = current, machine.isParsing, !exchange.discardBody, let body = exchange.body else { return 0 }
        let limit = server.configuration.maxBodyBytes
        let announced = parser.pointee.content_length
        if announced > UInt64(limit - body.count) {
            exchange.rejectError(413, .bodyTooLarge,
                                 "a chunk of \(announced) bytes takes the body past the limit of \(limit) bytes", close: true)
        }
        return 0
    }

    func onBody(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange = current, machine.isParsing, let base = bytes.baseAddress else { return 0 }
        exchange.bytesIn += bytes.count
        bodyReceived(bytes.count)
        guard !exchange.discardBody, let body = exchange.body else { return 0 }
        let limit = server.configuration.maxBodyBytes
        if body.count + bytes.count <= limit, !server.reserveBody(exchange, upTo: body.count + bytes.count) {
            exchange.rejectError(429, .tooManyRequests,
                                 "the chunked body passed \(body.count) bytes and no more memory for request bodies is free (--max-buffered-bytes); retry after 1 s",
                                 headers: [("Retry-After", "1")], close: true)
            return 0
        }
        if !body.append(base, count: bytes.count, limit: limit) {
            if body.count + bytes.count > limit {
                exchange.rejectError(413, .bodyTooLarge, "the chunked body exceeds the limit of \(limit) bytes", close: true)
            } else {
                exchange.rejectError(503, .insufficientMemory, "cannot grow the body buffer past \(body.count) bytes",
                                     headers: [("Retry-After", "1")], close: true)
            }
        }
        return 0
    }

    func onMessageComplete() -> Int32 {
        guard let exchange = current else { return 0 }
        exchange.receivedAt = .now
        // Connection: close, HTTP/1.0 without keep-alive, or a protocol switch we do not speak:
        // answer this one, read no further.
        requestComplete(exchange, closeAfter: http_should_keep_alive(parser) == 0 || parser.pointee.upgrade != 0)
        server.requestReceived(exchange)
        return 0
    }

}
