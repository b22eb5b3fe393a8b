import Testing
@testable import OmniZipServer

/// The per-turn read budget that keeps one loop turn short under many uploads.
@Suite("Read budget per loop turn")
struct ReadTurnsTests {
    @Test func budgetIsSpentWithinATurnAndRenewedByTheNext() {
        var allowance = TurnAllowance()
        #expect(allowance.remaining(in: 7) == ReadTurns.budget)
        allowance.consumed(ReadTurns.budget - 100)
        #expect(allowance.remaining(in: 7) == 100)
        allowance.consumed(100)
        #expect(allowance.remaining(in: 7) == 0, "over budget: wait for the next turn")
        #expect(allowance.remaining(in: 8) == ReadTurns.budget)
    }

    @Test func aLargeReadNeverLeavesANegativeAllowance() {
        var allowance = TurnAllowance()
        _ = allowance.remaining(in: 1)
        allowance.consumed(ReadTurns.budget * 3)
        #expect(allowance.remaining(in: 1) == 0)
    }
}
