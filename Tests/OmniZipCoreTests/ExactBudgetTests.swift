import Testing
@testable import OmniZipCore
import OmniZipTestSupport
import OmniZipWire

@Suite("Exact-count video budget")
struct ExactBudgetTests {
    // Three guided runs of two frames each, P = 10, merged at 0.375, 0.75 and 0.5: the
    // reference keeps 6, 2 and 5 per frame (remainders 0.25, 0.5 and 0).
    let layout: ChunkLayout
    let ratios = [0.375, 0.75, 0.5]

    init() throws {
        layout = try ChunkLayout(audioRunLengths: [4, 4, 4], videoRunLengths: [20, 20, 20], tokensPerFrame: 10, gridTokens: 60)
    }

    func counts(rhoVideo: Double) -> [[Int]?] {
        FrameCounts.make(layout: layout, ratios: ratios, mode: .exact, rhoVideo: rhoVideo)
    }

    @Test("K* uses rho_v clamped for guided runs and rho_v itself for unguided ones")
    func target() throws {
        #expect(ExactVideoTarget.tokens(layout: layout, rhoVideo: 0.6) == 6 * 4)
        #expect(ExactVideoTarget.tokens(layout: layout, rhoVideo: 0.1) == 6 * 6) // clamped to 0.35
        #expect(ExactVideoTarget.tokens(layout: layout, rhoVideo: 0.9) == 6 * 2) // clamped to 0.75
        // One unguided run (no audio run pairs with it) and a run shorter than one frame.
        let mixed = try ChunkLayout(audioRunLengths: [4], videoRunLengths: [20, 30, 7], tokensPerFrame: 10, gridTokens: 57)
        #expect(ExactVideoTarget.tokens(layout: mixed, rhoVideo: 0.5) == 2 * 5 + 3 * 5)
        // Truncation of the double product, as Python's int(): 10 * (1.0 - 0.9) is 0.99999...
        #expect(ExactVideoTarget.tokens(layout: mixed, rhoVideo: 0.9) == 2 * 2 + 3 * 0)
    }

    @Test("a deficit is added by largest remainder: run by remainder, then frame, pass by pass")
    func adds() {
        // K* = 36, the reference keeps 26: run 1 (0.5) first, then run 0 (0.25), then run 2 (0).
        #expect(counts(rhoVideo: 0.3) == [[8, 8], [4, 4], [6, 6]])
    }

    @Test("a surplus is removed from the smallest remainders first")
    func removes() {
        // K* = 24, the reference keeps 26: both tokens come off run 2 (remainder 0).
        #expect(counts(rhoVideo: 0.6) == [[6, 6], [2, 2], [4, 4]])
    }

    @Test("counts stay within [0, P] however far the target is")
    func bounded() {
        var frames: [[Int]?] = [[9, 9], nil, [1]]
        FrameCounts.reconcile(&frames, p: 10, ratios: [0.1, 0, 0.9], target: 30)
        #expect(frames == [[10, 10], nil, [10]])
        FrameCounts.reconcile(&frames, p: 10, ratios: [0.1, 0, 0.9], target: 0)
        #expect(frames == [[0, 0], nil, [0]])
    }

    @Test("the sizes-only totals: audio dominant + anchors, K* plus short runs")
    func placeholderBudget() throws {
        let layout = try ChunkLayout(
            audioRunLengths: [50, 50, 50, 3], videoRunLengths: [240, 240, 240, 100], tokensPerFrame: 120,
            gridTokens: 820)
        let budget = PlaceholderBudget(layout: layout, parameters: .defaults)
        // N = 153: dom = round(107.1) = 107, C = round(7.65) = 8 anchors; 3 runs x 2 frames x int(120 * 0.4).
        #expect(budget.keptAudio == 115)
        #expect(budget.videoTarget == 288)
        #expect(budget.shortVideo == 100)
        #expect(budget.kept == 503 && budget.total == 973)
        // No merging: anchors vanish; no audio at all: nothing kept.
        #expect(
            PlaceholderBudget(layout: layout, parameters: try Parameters(rhoAudio: 0.3, rhoVideo: 0.6, contextualRatio: 0.05, g: 0)).keptAudio == 107)
        let silent = try ChunkLayout(audioRunLengths: [], videoRunLengths: [240], tokensPerFrame: 120, gridTokens: 240)
        #expect(PlaceholderBudget(layout: silent, parameters: .defaults).keptAudio == 0)
    }

    @Test("exact and reference agree wherever the reference already keeps K*")
    func equalsReferenceAtTarget() throws {
        // All runs unguided: every ratio is rho_v, so the reference keeps K* exactly.
        let layout = try ChunkLayout(audioRunLengths: [], videoRunLengths: [30, 30], tokensPerFrame: 10, gridTokens: 60)
        let reference = try BudgetPlan(scores: [], layout: layout, parameters: .defaults)
        let exact = try BudgetPlan(
            scores: [], layout: layout, parameters: try Parameters(rhoAudio: 0.3, rhoVideo: 0.6, contextualRatio: 0.05, g: 3, videoBudget: .exact))
        #expect(exact.videoFrameKept == reference.videoFrameKept)
        #expect(exact.videoChunkRatio == reference.videoChunkRatio)
    }

    /// Random layouts and parameters: the plan's totals under `exact` always equal the
    /// sizes-only budget, and equal the reference's plan whenever that one already kept K*.
    @Test("kept totals equal the sizes-only budget on random layouts", arguments: 0..<400)
    func property(seed: Int) throws {
        var random = SeededRandom(UInt64(seed))
        let p = random.int(1...24)
        let videoRuns = (0..<random.int(0...8)).map { _ in random.int(1...(4 * p)) }
        let audioRuns = (0..<random.int(0...8)).map { _ in random.int(1...40) }
        let grid = [0.0, 0.25, 0.5, 1.0]
        func ratio() -> Double { random.int(0...3) == 0 ? grid[random.int(0...3)] : random.uniform() }
        let parameters = try Parameters(
            rhoAudio: ratio(), rhoVideo: ratio(), contextualRatio: random.uniform() * 0.2,
            g: random.int(0...4), videoBudget: .exact)
        let layout = try ChunkLayout(
            audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: p,
            gridTokens: videoRuns.reduce(0, +))
        // Scores with ties, so the lower-index rule is exercised too.
        let scores = (0..<layout.audioTokenCount).map { _ in Float(random.int(0...9)) }

        let exact = try BudgetPlan(scores: scores, layout: layout, parameters: parameters)
        let sizes = PlaceholderBudget(layout: layout, parameters: parameters)
        #expect(exact.keptAudio == sizes.keptAudio)
        #expect(exact.keptVideo == sizes.keptVideo)
        #expect(exact.videoFrameKept.allSatisfy { $0?.allSatisfy { (0...p).contains($0) } ?? true })

        var referenceParameters = parameters
        referenceParameters.videoBudget = .reference
        let reference = try BudgetPlan(scores: scores, layout: layout, parameters: referenceParameters)
        #expect(reference.audio == exact.audio)
        #expect(reference.videoChunkRatio == exact.videoChunkRatio)
        if reference.keptVideo == sizes.keptVideo {
            #expect(reference.videoFrameKept == exact.videoFrameKept)
        }
    }

    @Test("compression keeps exactly the sizes-only total", arguments: 0..<24)
    func compressionKeepsBudget(seed: Int) throws {
        var random = SeededRandom(UInt64(seed) &+ 1000)
        let p = random.int(1...12), d = random.int(1...9)
        let videoRuns = (0..<random.int(1...6)).map { _ in random.int(1...(3 * p)) }
        let audioRuns = (0..<random.int(0...6)).map { _ in random.int(1...30) }
        let parameters = try Parameters(rhoAudio: random.uniform(), rhoVideo: random.uniform(), contextualRatio: 0.1, g: 3, videoBudget: .exact)
        let na = audioRuns.reduce(0, +), nv = videoRuns.reduce(0, +)
        let audio = OwnedRows(noise(max(1, na) * d, seed: UInt64(seed) + 1), dimension: d)
        let video = OwnedRows(noise(nv * d, seed: UInt64(seed) + 2), dimension: d)
        let input = try makeInput(
            audio: audio, audioCount: na, video: video, videoCount: nv, scores: noise(na, seed: UInt64(seed) + 3),
            audioRuns: audioRuns, videoRuns: videoRuns, p: p, parameters: parameters)
        let result = try Compressor(workers: 2).compress(input)
        let sizes = PlaceholderBudget(layout: input.layout, parameters: parameters)
        #expect(result.videoKeep.filter { $0 }.count == sizes.keptVideo)
        #expect(result.audioKeep.filter { $0 }.count == sizes.keptAudio)
    }
}
