/// Minimal JSON text building for small fixed-shape objects (error bodies, logs, plans): a
/// hand-written escaper avoids Foundation on hot paths.
public enum JSONText {
    public static func string(_ s: String) -> String {
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

    /// Shortest round-trip form (integral values keep their ".0"); non-finite values are null.
    public static func number(_ x: Double) -> String { x.isFinite ? x.description : "null" }

    /// `{"k":v,...}` from already-encoded values, in the given order.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
