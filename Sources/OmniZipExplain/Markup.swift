import OmniZipWire

/// Text building for the report: escaping and short number forms. SVG coordinates are kept
/// to integers or one decimal so a minute-long clip's page stays small.
enum Markup {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A coordinate: integral values without a fraction, others with at most two decimals.
    static func n(_ x: Double) -> String {
        if x == x.rounded() { return String(Int(x)) }
        var s = cFormat("%.2f", x)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// A ratio for people: three decimals.
    static func ratio(_ x: Double) -> String { cFormat("%.3f", x) }

    static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "-" : cFormat("%.0f%%", 100 * Double(part) / Double(whole))
    }

    /// A value for people: four significant digits.
    static func value(_ x: Float) -> String { cFormat("%.4g", Double(x)) }
    static func value(_ x: Double) -> String { cFormat("%.4g", x) }

    /// A float32 exactly (the shortest text that reads back as the same float32), for data-*.
    static func exact(_ x: Float) -> String { x.description }

    /// A time: "12.40 s".
    static func seconds(_ x: Double) -> String { cFormat("%.2f s", x) }

    /// A time span, "12.00–14.00 s".
    static func span(_ x: (Double, Double)) -> String { cFormat("%.2f–%.2f s", x.0, x.1) }

    /// 8700 -> "8,700".
    static func count(_ n: Int) -> String { DigitGrouping.grouped(n) }

    /// The signed change a renormalisation made, "+0.071" or "-0.020" or "0".
    static func delta(_ x: Double) -> String {
        abs(x) < 5e-4 ? "0" : (x > 0 ? "+" : "") + ratio(x)
    }
}
