import Testing
@testable import OmniZipCore

@Suite("Stage 1: audio selection")
struct AudioSelectionTests {
    func select(_ scores: [Float], rhoAudio: Double = 0.3, contextual: Double = 0.05, g: Int = 3) throws -> AudioSelection {
        AudioSelection(scores: scores, parameters: try Parameters(rhoAudio: rhoAudio, rhoVideo: 0.6, contextualRatio: contextual, g: g))
    }

    func kept(_ s: AudioSelection) -> [Int] { s.keep.indices.filter { s.keep[$0] } }

    @Test("dominant count rounds half to even, like Python's round")
    func halfToEven() throws {
        // (1 - 0.5) * 5 = 2.5 -> 2 ; (1 - 0.5) * 7 = 3.5 -> 4
        let five = try select([5, 4, 3, 2, 1], rhoAudio: 0.5, contextual: 0)
        #expect(kept(five) == [0, 1])
        let seven = try select([7, 6, 5, 4, 3, 2, 1], rhoAudio: 0.5, contextual: 0)
        #expect(kept(seven) == [0, 1, 2, 3])
    }

    @Test("equal scores keep the lower indices")
    func tiesGoLow() throws {
        let s = try select([1, 2, 2, 2, 2, 0], rhoAudio: 0.5, contextual: 0) // keep 3 of the four 2s
        #expect(kept(s) == [1, 2, 3])
    }

    @Test("anchors are evenly strided over the remaining tokens; the rest form the pool")
    func anchorsAndPool() throws {
        let scores = (0..<20).map { Float(20 - $0) } // descending: the first 14 are dominant
        let one = try select(scores) // C = round(0.05 * 20) = 1, step = 6
        #expect(one.anchors == [14])
        #expect(one.pool == [15, 16, 17, 18, 19])
        let five = try select(scores, contextual: 0.25) // C = 5, step = 6 // 5 = 1
        #expect(five.anchors == [14, 15, 16, 17, 18])
        #expect(five.pool == [19])
        #expect(kept(five) == Array(0..<19))
    }

    @Test("contextual count also rounds half to even")
    func contextualHalfToEven() throws {
        let ten = try select((0..<10).map { Float(-$0) }, rhoAudio: 0.5) // 0.05 * 10 = 0.5 -> 0 anchors
        #expect(ten.anchors.isEmpty)
        let thirty = try select((0..<30).map { Float(-$0) }, rhoAudio: 0.5) // 1.5 -> 2 anchors, step 7
        #expect(thirty.anchors == [15, 22])
    }

    @Test("rho_a = 1 keeps only anchors; rho_a = 0 keeps everything")
    func extremes() throws {
        let scores = (0..<40).map { Float($0 % 7) }
        let all = try select(scores, rhoAudio: 0)
        #expect(all.keep.allSatisfy { $0 } && all.anchors.isEmpty && all.pool.isEmpty)
        let none = try select(scores, rhoAudio: 1) // C = 2, step 20
        #expect(none.anchors == [0, 20])
        #expect(kept(none) == [0, 20])
        #expect(none.pool.count == 38)
    }

    @Test("G = 0 or contextual ratio 0: no anchors, no pool")
    func noMerging() throws {
        let scores = (0..<40).map { Float($0) }
        for s in [try select(scores, g: 0), try select(scores, contextual: 0)] {
            #expect(s.anchors.isEmpty && s.pool.isEmpty)
            #expect(kept(s).count == 28)
        }
    }

    @Test("no audio tokens")
    func empty() throws {
        let s = try select([])
        #expect(s.keep.isEmpty && s.anchors.isEmpty && s.pool.isEmpty)
    }
}
