extension Duration {
    /// For logs, metrics and Server-Timing.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e3 + Double(attoseconds) * 1e-15
    }
}

/// Milliseconds with three decimals, as the metadata and logs print them.
func formatMilliseconds(_ ms: Double) -> String {
    let micros = (ms * 1000).rounded()
    guard micros.isFinite, micros >= 0, micros < 1e15 else { return "0.000" }
    let whole = Int(micros) / 1000, fraction = Int(micros) % 1000
    let digits = String(fraction)
    return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
}
