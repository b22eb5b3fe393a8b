/// What one connection has read in the current turn.
struct TurnAllowance {
    private var turn: UInt64 = .max
    private var used = 0

    /// Bytes the connection may still read this turn (0: wait for the next one).
    mutating func remaining(in turn: UInt64) -> Int {
        if turn != self.turn {
            self.turn = turn
            used = 0
        }
        return max(0, ReadTurns.budget - used)
    }

    mutating func consumed(_ bytes: Int) { used += bytes }
}
