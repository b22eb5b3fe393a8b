import Testing

@testable import OmniZipServer

/// The read budget that keeps one loop turn short under many uploads.
@Suite("Read budget per loop turn")
struct ReadTurnsTests {
    @Test func oneUploadReadsTheWholeTurnManyShareIt() {
        #expect(ReadTurns.share(readers: 0) == ReadTurns.turnBudget)
        #expect(ReadTurns.share(readers: 1) == ReadTurns.turnBudget)
        #expect(ReadTurns.share(readers: 4) == ReadTurns.turnBudget / 4)
        #expect(ReadTurns.share(readers: 10_000) == ReadTurns.minimumShare, "never below the minimum")
    }

    @Test func allowanceIsSpentWithinATurnAndRenewedByTheNext() {
        var allowance = TurnAllowance()
        #expect(allowance.remaining(in: 7, share: 1000) == 1000)
        let first = allowance.consumed(900)
        #expect(first, "the first read of a turn counts the connection as a reader")
        #expect(allowance.remaining(in: 7, share: 1000) == 100)
        let second = allowance.consumed(100)
        #expect(!second)
        #expect(allowance.remaining(in: 7, share: 1000) == 0, "over its share: wait for the next turn")
        #expect(allowance.remaining(in: 8, share: 500) == 500)
    }

    @Test func aLargeReadNeverLeavesANegativeAllowance() {
        var allowance = TurnAllowance()
        _ = allowance.remaining(in: 1, share: 100)
        _ = allowance.consumed(300)
        #expect(allowance.remaining(in: 1, share: 100) == 0)
    }
}
