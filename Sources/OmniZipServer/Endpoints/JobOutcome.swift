import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// What a worker hands back to the loop.
struct JobOutcome: Sendable {
    var response: HTTPResponse
    /// Token counts of a successful compression (for the tokens metric).
    var counts: TokenCounts?
    /// Server-side phases in milliseconds, for the phase histogram.
    var phases: [(name: String, ms: Double)] = []
}
