import OmniZipWire

/// One request and its response on a connection, from the request's first byte until its
/// response is written. Loop thread only; a worker sees at most the body buffer and a
/// `LoopBound` token of it.
final class Exchange {
    weak var connection: Connection?
    /// The connection state machine's name for this request.
    let id: Int
    var requestID: String
    let startedAt: ContinuousClock.Instant
    /// When the body was complete.
    var receivedAt: ContinuousClock.Instant

    // Request line and headers, accumulated as http_parser hands them over in pieces.
    var method = "-"
    var http10 = false
    var url: [UInt8] = []
    var path = "-"
    var query: [String: String] = [:]
    var contentType: String?
    var accept: String?
    var expectsContinue = false
    var requestIDHeader: [UInt8]?
    var headersComplete = false
    var endpoint: Endpoint?

    // Body.
    var body: ByteBuffer?
    /// Content-Length when given (a direct socket read may fill the body in place).
    var contentLength: Int?
    /// Content-Length as sent (may exceed Int.max), for messages.
    var declaredLength: UInt64?
    var chunked = false
    /// The response was decided before the body: its bytes are counted, not kept.
    var discardBody = false
    var bytesIn = 0

    var response: HTTPResponse?
    /// What admission granted (compress, score and budget only), given back once at the end.
    var ticket: Admission.Ticket?
    // The job's side, kept by the server loop.
    var jobRunning = false
    var abandoned = false
    var loggedDone = false

    init(id: Int, startedAt: ContinuousClock.Instant) {
        self.id = id
        self.startedAt = startedAt
        receivedAt = startedAt
        requestID = RequestID.next()
    }

    var expectsBody: Bool { chunked || (contentLength ?? 0) > 0 }

    /// The response, decided; the connection's state machine says when it goes out.
    func respond(_ response: HTTPResponse) {
        self.response = response
        connection?.responseReady(self, close: false)
    }

    /// A response decided before the body is in (or instead of it): the body is not kept, and
    /// the state machine decides whether it is read and dropped or the connection closes.
    /// `close`: the connection closes after this response whatever the body.
    func reject(_ response: HTTPResponse, close: Bool = false) {
        self.response = response
        discardBody = true
        body = nil
        connection?.responseReady(self, close: close)
    }

    func rejectError(_ status: Int, _ code: ErrorCode, _ message: String, headers: [(String, String)] = [], close: Bool = false) {
        reject(ErrorBody.response(status, code, message, requestID: requestID, headers: headers), close: close)
    }
}

/// Accumulates header name/value pieces and keeps the few headers the server reads.
struct HeaderAccumulator {
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    /// Total bytes seen, as a guard on top of http_parser's own header limit.
    private(set) var total = 0

    mutating func addField(_ bytes: UnsafeRawBufferPointer, into exchange: Exchange) {
        if inValue { finish(into: exchange) }
        total += bytes.count
        if field.count < 256 { field.append(contentsOf: bytes.prefix(256 - field.count)) }
    }

    /// RFC 9110 tchar: what a header name may hold.
    static func isTokenCharacter(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }

    mutating func addValue(_ bytes: UnsafeRawBufferPointer) {
        inValue = true
        total += bytes.count
        if value.count < 8192 { value.append(contentsOf: bytes.prefix(8192 - value.count)) }
    }

    mutating func finish(into exchange: Exchange) {
        defer {
            field.removeAll(keepingCapacity: true)
            value.removeAll(keepingCapacity: true)
            inValue = false
        }
        guard !field.isEmpty else { return }
        let name = String(decoding: field, as: UTF8.self).lowercased()
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        switch name {
        case "content-type": exchange.contentType = String(decoding: value, as: UTF8.self)
        case "accept": exchange.accept = String(decoding: value, as: UTF8.self)
        case "expect": exchange.expectsContinue = String(decoding: value, as: UTF8.self).lowercased() == "100-continue"
        case "x-request-id": exchange.requestIDHeader = value
        default: break
        }
    }
}

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

/// The media type of a Content-Type or Accept entry: lower-cased, parameters dropped.
func mediaType(_ value: String) -> String {
    let head = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return String(head).trimmingSpaces().lowercased()
}
