import OmniZipWire

/// Every error the server sends: `{"error": {"code", "message", "request_id"}}`.
enum ErrorBody {
    static func response(
        _ status: Int, _ code: ErrorCode, _ message: String, requestID: String,
        headers: [(String, String)] = []
    ) -> HTTPResponse {
        let text =
            JSONText.object([
                (
                    "error",
                    JSONText.object([
                        ("code", JSONText.string(code.rawValue)), ("message", JSONText.string(message)),
                        ("request_id", JSONText.string(requestID)),
                    ])
                )
            ]) + "\n"
        var response = HTTPResponse(status: status, contentType: "application/json", body: .bytes(Array(text.utf8)))
        response.headers = headers
        response.errorCode = code
        return response
    }
}
