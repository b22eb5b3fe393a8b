import CHTTPParser

/// The parser's view of a connection: each callback feeds the exchange being received and
/// tells the state machine what happened.
extension ConnectionCore: HTTPParserEvents {
    func onMessageBegin() -> Int32 {
        guard beginRequest() != nil else { return 1 }
        headers = HeaderAccumulator()
        return 0
    }

    func onURL(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange = current else { return 0 }
        exchange.bytesIn += bytes.count
        if exchange.url.count <= HTTPParserBridge.maxURLBytes {
            exchange.url.append(contentsOf: bytes.prefix(HTTPParserBridge.maxURLBytes + 1 - exchange.url.count))
        }
        return 0
    }

    func onHeaderField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        // RFC 9112 5.1: a field name is a token; whitespace before the colon must be refused,
        // or a proxy that ignores the field and this server would read different requests.
        if let bad = bytes.first(where: { !HeaderAccumulator.isTokenCharacter($0) }) {
            parseFailure =
                bad == 0x20 || bad == 0x09
                ? "whitespace between a header name and its colon"
                : "a header name has the invalid character 0x\(String(bad, radix: 16))"
            return 1
        }
        if let exchange = current { headers.addField(bytes, into: exchange) }
        return 0
    }

    func onHeaderValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if let start = readStart, HeaderAccumulator.continuesFoldedLine(bytes, readStart: start, lineStartBefore: readEndedAtLineStart) {
            parseFailure = "a header line folded onto the next (obs-fold, RFC 9112 5.2): send each field on one line"
            return 1
        }
        headers.addValue(bytes)
        return 0
    }

    func onHeadersComplete() -> Int32 {
        guard let exchange = current else { return 0 }
        headers.finish(into: exchange)
        exchange.descriptors = takePendingDescriptors()
        if let problem = headers.transferCodingProblem {
            parseFailure = problem
            return -1 // 1 and 2 mean "no body" to http_parser; anything else fails the parse
        }
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
        let limit = handler.maxBodyBytes
        let announced = parser.pointee.content_length
        if announced > UInt64(limit - body.count) {
            exchange.rejectError(
                413, .bodyTooLarge,
                "a chunk of \(announced) bytes takes the body past the limit of \(limit) bytes", close: true)
        }
        return 0
    }

    func onBody(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let exchange = current, machine.isParsing, let base = bytes.baseAddress else { return 0 }
        exchange.bytesIn += bytes.count
        bodyReceived(bytes.count)
        guard !exchange.discardBody, let body = exchange.body else { return 0 }
        let limit = handler.maxBodyBytes
        if body.count + bytes.count <= limit, !handler.reserveBody(exchange, upTo: body.count + bytes.count) {
            exchange.rejectError(
                429, .tooManyRequests,
                "the chunked body passed \(body.count) bytes and no more memory for request bodies is free (--max-buffered-bytes); retry after 1 s",
                headers: [("Retry-After", "1")], close: true)
            return 0
        }
        if !body.append(base, count: bytes.count, limit: limit) {
            if body.count + bytes.count > limit {
                exchange.rejectError(413, .bodyTooLarge, "the chunked body exceeds the limit of \(limit) bytes", close: true)
            } else {
                exchange.rejectError(
                    503, .insufficientMemory, "cannot grow the body buffer past \(body.count) bytes",
                    headers: [("Retry-After", "1")], close: true)
            }
            return 0
        }
        if exchange.prefixNeeded != nil || exchange.prefix != nil { handler.bodyProgress(exchange) }
        return 0
    }

    func onMessageComplete() -> Int32 {
        guard let exchange = current else { return 0 }
        exchange.receivedAt = .now
        // Connection: close, HTTP/1.0 without keep-alive, or a protocol switch we do not speak:
        // answer this one, read no further.
        requestComplete(exchange, closeAfter: http_should_keep_alive(parser) == 0 || parser.pointee.upgrade != 0)
        handler.requestReceived(exchange)
        return 0
    }

}
