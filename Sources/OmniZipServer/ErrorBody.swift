import OmniZipWire

/// Every error the server sends: `{"error": {"code", "message", "request_id"}}`.
enum ErrorBody {
    static func response(_ status: Int, _ code: ErrorCode, _ message: String, requestID: String,
                         headers: [(String, String)] = []) -> HTTPResponse {
        let text = JSONText.object([
            ("error", JSONText.object([("code", JSONText.string(code.rawValue)), ("message", JSONText.string(message)),
                                       ("request_id", JSONText.string(requestID))])),
        ]) + "\n"
        var response = HTTPResponse(status: status, contentType: "application/json", body: .bytes(Array(text.utf8)))
        response.headers = headers
        response.errorCode = code.rawValue
        return response
    }

    /// For the connection files (EventLoop, Connection, HTTPParserBridge, HTTPRequest), which
    /// are being reworked apart from this change and still pass codes as strings. Goes once they
    /// pass `ErrorCode`; until then a code missing from the enum is a bug caught in debug builds.
    static func response(_ status: Int, _ code: String, _ message: String, requestID: String,
                         headers: [(String, String)] = []) -> HTTPResponse {
        guard let known = ErrorCode(rawValue: code) else {
            assertionFailure("error code '\(code)' is not an ErrorCode")
            return response(status, .internalError, message, requestID: requestID, headers: headers)
        }
        return response(status, known, message, requestID: requestID, headers: headers)
    }
}
