import OmniZipWire

// Typed error codes for the exchange and the query parser, whose own files (HTTPRequest.swift)
// are being reworked apart from this change and still take strings. New code uses these.

extension Exchange {
    func rejectError(_ status: Int, _ code: ErrorCode, _ message: String, headers: [(String, String)] = [], close: Bool = false) {
        reject(ErrorBody.response(status, code, message, requestID: requestID, headers: headers), close: close)
    }
}

extension QueryString.Failure {
    init(_ code: ErrorCode, _ message: String) {
        self.init(code: code.rawValue, message: message)
    }
}
