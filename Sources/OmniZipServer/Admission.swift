/// Counts compress and score requests admitted at once: from their headers until their
/// response is written (or the connection is gone). Loop thread only.
struct Admission {
    let limit: Int
    private(set) var inflight = 0

    init(limit: Int) { self.limit = max(1, limit) }

    mutating func tryAdmit(_ exchange: Exchange) -> Bool {
        guard inflight < limit else { return false }
        inflight += 1
        exchange.admitted = true
        return true
    }

    /// Idempotent: the exchange gives its slot back once, whichever way it ends.
    mutating func release(_ exchange: Exchange) {
        guard exchange.admitted else { return }
        exchange.admitted = false
        inflight -= 1
    }
}
