#if canImport(Glibc)
    import Glibc
#endif
import OmniZipWire

/// A response as the endpoints build it. Connection-level headers (Connection, Date,
/// X-Request-Id, Content-Length) are added by the connection when it writes, because only the
/// loop knows whether the connection stays open.
struct HTTPResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        /// Large bodies (safetensors) serialized straight into their own buffer by a worker.
        case buffer(ByteBuffer)

        var count: Int {
            switch self {
            case let .bytes(b): b.count
            case let .buffer(b): b.count
            }
        }
    }

    var status: Int
    var contentType: String?
    var headers: [(String, String)] = []
    var body: Body
    /// The error code of an error response (metrics count rejections by it).
    var errorCode: ErrorCode?

    init(status: Int, contentType: String?, body: Body) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: .bytes(Array(text.utf8)))
    }

    /// Status line and headers, ending with the blank line.
    func head(requestID: String, keepAlive: Bool, http10: Bool, date: String) -> [UInt8] {
        var s = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        s += "Date: \(date)\r\nServer: omnizip\r\n"
        if let contentType { s += "Content-Type: \(contentType)\r\n" }
        s += "Content-Length: \(body.count)\r\n"
        s += "X-Request-Id: \(requestID)\r\n"
        for (name, value) in headers { s += "\(name): \(value)\r\n" }
        if !keepAlive {
            s += "Connection: close\r\n"
        } else if http10 {
            s += "Connection: keep-alive\r\n"
        }
        s += "\r\n"
        return Array(s.utf8)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }

    static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
