/// What one connection has read in the current loop turn (see `ReadTurns`).
struct TurnAllowance {
    private var turn: UInt64 = .max
    private var used = 0

    /// Bytes the connection may still read in `turn`, given its share (0: wait for the next).
    mutating func remaining(in turn: UInt64, share: Int) -> Int {
        if turn != self.turn {
            self.turn = turn
            used = 0
        }
        return max(0, share - used)
    }

    /// Counts a read; true when it is the connection's first in this turn.
    mutating func consumed(_ bytes: Int) -> Bool {
        defer { used += bytes }
        return used == 0 && bytes > 0
    }
}
