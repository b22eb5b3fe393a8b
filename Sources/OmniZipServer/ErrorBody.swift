/// Minimal JSON text building: the server writes a few small fixed-shape objects, so a
/// hand-written escaper avoids Foundation on the hot path.
enum JSON {
    static func string(_ s: String) -> String {
        // Almost every string needs no escape: one byte scan instead of scalar-wise appends.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func number(_ x: Double) -> String { x.isFinite ? x.description : "null" }

    /// `{"k":v,...}` from already-encoded values, in the given order.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

/// Every error the server sends: `{"error": {"code", "message", "request_id"}}`.
enum ErrorBody {
    static func response(_ status: Int, _ code: String, _ message: String, requestID: String,
                         headers: [(String, String)] = []) -> HTTPResponse {
        let text = JSON.object([
            ("error", JSON.object([("code", JSON.string(code)), ("message", JSON.string(message)), ("request_id", JSON.string(requestID))])),
        ]) + "\n"
        var response = HTTPResponse(status: status, contentType: "application/json", body: .bytes(Array(text.utf8)))
        response.headers = headers
        response.errorCode = code
        return response
    }
}
