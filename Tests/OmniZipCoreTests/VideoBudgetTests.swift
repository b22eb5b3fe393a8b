import Testing
@testable import OmniZipCore

@Suite("Stage 2: per-chunk video ratios")
struct VideoBudgetTests {
    /// A keep mask with `kept[i]` of `lengths[i]` tokens kept in each run.
    func mask(_ kept: [Int], of lengths: [Int]) -> [Bool] {
        zip(kept, lengths).flatMap { k, n in (0..<n).map { $0 < k } }
    }

    @Test("retention is a float32 mean widened to double")
    func float32Retention() throws {
        let layout = try ChunkLayout(audioRunLengths: [3, 3], videoRunLengths: [4, 4], tokensPerFrame: 2, gridTokens: 8)
        let budget = VideoBudget(audioKeep: mask([1, 3], of: [3, 3]), layout: layout, rhoVideo: 0.6)
        #expect(budget.audioChunkRetention == [Double(Float(1) / Float(3)), 1])
        #expect(budget.audioChunkRetention[0] == 0.3333333432674408)
    }

    @Test("two or fewer guided runs are not renormalised")
    func fewGuidedRuns() throws {
        let layout = try ChunkLayout(audioRunLengths: [4, 4], videoRunLengths: [8, 8, 8], tokensPerFrame: 4, gridTokens: 24)
        let budget = VideoBudget(audioKeep: mask([4, 0], of: [4, 4]), layout: layout, rhoVideo: 0.5)
        // base = clamp(0.75 + (0.35 - 0.75) * ret): ret 1 -> 0.35, ret 0 -> 0.75; the unguided run gets rho_v.
        #expect(budget.videoChunkRatio == [0.35, 0.75, 0.5])
    }

    @Test("renormalisation reproduces the reference's last bits (golden case 031)")
    func referenceBits() throws {
        // Runs of case public-031: audio 50/50/50/3 with 14/50/50/1 kept; video 18/18/18/9, P = 9, T*P = 63.
        let layout = try ChunkLayout(audioRunLengths: [50, 50, 50, 3], videoRunLengths: [18, 18, 18, 9], tokensPerFrame: 9, gridTokens: 63)
        let budget = VideoBudget(audioKeep: mask([14, 50, 50, 1], of: [50, 50, 50, 3]), layout: layout, rhoVideo: 0.6)
        #expect(budget.videoChunkRatio == [0.6379999995231629, 0.35, 0.6883966254696965, 0.75])
        // The base ratios are the retention's alone; the renormalisation moved runs 0 and 2.
        #expect(
            budget.baseRatio == [
                0.75 + (0.35 - 0.75) * Double(Float(14) / Float(50)), 0.35, 0.35, 0.75 + (0.35 - 0.75) * budget.audioChunkRetention[3],
            ])
        #expect(budget.baseRatio[1] == budget.videoChunkRatio[1])
    }

    @Test("without renormalisation the base ratio is the ratio")
    func baseWithoutRenormalisation() throws {
        let layout = try ChunkLayout(audioRunLengths: [4, 4], videoRunLengths: [8, 8, 8], tokensPerFrame: 4, gridTokens: 24)
        let budget = VideoBudget(audioKeep: mask([4, 0], of: [4, 4]), layout: layout, rhoVideo: 0.5)
        #expect(budget.baseRatio == [0.35, 0.75])
        #expect(Array(budget.videoChunkRatio.prefix(2)) == budget.baseRatio)
    }

    @Test(
        "ratios stay within [0.35, 0.75] and unguided runs get rho_v",
        arguments: [0.0, 0.3, 0.6, 0.9, 1.0])
    func clamped(rhoVideo: Double) throws {
        let lengths = [10, 20, 30, 40, 50]
        let layout = try ChunkLayout(audioRunLengths: lengths, videoRunLengths: [40, 40, 40, 40, 40, 40, 40], tokensPerFrame: 20, gridTokens: 280)
        let budget = VideoBudget(audioKeep: mask([1, 5, 30, 0, 50], of: lengths), layout: layout, rhoVideo: rhoVideo)
        #expect(budget.videoChunkRatio.prefix(5).allSatisfy { $0 >= 0.35 && $0 <= 0.75 })
        #expect(Array(budget.videoChunkRatio.suffix(2)) == [rhoVideo, rhoVideo])
    }
}
