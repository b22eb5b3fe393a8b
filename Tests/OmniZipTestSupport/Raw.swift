/// Request text helpers.
public enum Raw {
    public static func get(_ path: String, _ extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n"
    }

    public static func postHead(_ path: String, length: Int?, type: String? = "application/octet-stream", extra: String = "") -> String {
        var s = "POST \(path) HTTP/1.1\r\nHost: t\r\n"
        if let length { s += "Content-Length: \(length)\r\n" }
        if let type { s += "Content-Type: \(type)\r\n" }
        return s + extra + "\r\n"
    }

    public static func post(_ path: String, _ body: [UInt8], type: String? = "application/octet-stream", extra: String = "") -> [UInt8] {
        Array(postHead(path, length: body.count, type: type, extra: extra).utf8) + body
    }

    /// A chunked encoding of `body` in pieces of `size`.
    public static func chunked(_ body: [UInt8], size: Int) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < body.count {
            let end = min(body.count, start + size)
            out += Array((String(end - start, radix: 16) + "\r\n").utf8) + body[start..<end] + Array("\r\n".utf8)
            start = end
        }
        return out + Array("0\r\n\r\n".utf8)
    }
}
