extension StringProtocol {
    /// Without surrounding spaces and tabs (HTTP's optional whitespace, parameter values,
    /// environment values); `leading: false` keeps the front (right-trimmed table cells).
    public func trimmingSpaces(leading: Bool = true) -> String {
        var s = Substring(self)
        while leading, let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
