import Testing
@testable import OmniZipCore
import OmniZipTestSupport

@Suite("Stage 3: interleaved spatio-temporal pruning")
struct VideoPruningTests {
    let compressor = Compressor(workers: 2)
    let noAudio = OwnedRows([], dimension: 4)

    /// Video only: every run unguided, so its ratio is rho_v.
    func prune(_ video: [Float], d: Int, runs: [Int], p: Int, rhoVideo: Double) throws -> CompressionResult {
        let rows = OwnedRows(video, dimension: d)
        let input = try makeInput(
            audio: OwnedRows([], dimension: d), audioCount: 0, video: rows, videoCount: runs.reduce(0, +),
            scores: [], audioRuns: [], videoRuns: runs, p: p,
            parameters: try Parameters(rhoAudio: 0.3, rhoVideo: rhoVideo, contextualRatio: 0.05, g: 3))
        return try compressor.compress(input)
    }

    @Test("a run shorter than a frame is kept whole and reports ratio 0")
    func shortRun() throws {
        let r = try prune(noise(3 * 4, seed: 1), d: 4, runs: [3], p: 4, rhoVideo: 0.6)
        #expect(r.videoKeep == [true, true, true])
        #expect(r.plan.videoChunkRatio == [0])
        #expect(r.plan.videoChunkKept == [3])
    }

    @Test("tokens past the last whole frame are dropped")
    func partialFrameDropped() throws {
        let r = try prune(noise(10 * 4, seed: 2), d: 4, runs: [10], p: 4, rhoVideo: 0) // rho 0 keeps whole frames
        #expect(r.videoKeep == [true, true, true, true, true, true, true, true, false, false])
        #expect(r.plan.videoChunkKept == [8])
    }

    @Test("rho_v = 1 keeps nothing; P = 1 never crashes")
    func dropEverything() throws {
        let all = try prune(noise(8 * 4, seed: 3), d: 4, runs: [8], p: 4, rhoVideo: 1)
        #expect(all.videoKeep.allSatisfy { !$0 })
        let single = try prune(noise(6 * 3, seed: 4), d: 3, runs: [6], p: 1, rhoVideo: 0.6)
        #expect(single.videoKeep.allSatisfy { !$0 }) // nk = int(1 * 0.4) = 0
        let keepAll = try prune(noise(6 * 3, seed: 4), d: 3, runs: [6], p: 1, rhoVideo: 0)
        #expect(keepAll.videoKeep.allSatisfy { $0 })
    }

    @Test("an odd frame keeps the tokens that changed most since the previous frame")
    func temporal() throws {
        // P = 4, D = 2, rho_v 0.75 -> nk = 1. Frame 1 equals frame 0 except token 2, which turns 90 degrees.
        let frame0: [Float] = [1, 0, 0, 1, 1, 1, -1, 0]
        var frame1 = frame0
        frame1[4] = -1; frame1[5] = 1
        let r = try prune(frame0 + frame1, d: 2, runs: [8], p: 4, rhoVideo: 0.75)
        #expect(Array(r.videoKeep[4..<8]) == [false, false, true, false])
    }

    @Test("identical tokens tie, and ties keep the lower indices")
    func tiesGoLow() throws {
        let frame = [Float](repeating: 0.5, count: 6 * 3)
        let r = try prune(frame + frame, d: 3, runs: [12], p: 6, rhoVideo: 0.5) // nk = 3 per frame
        #expect(Array(r.videoKeep[0..<6]) == [true, true, true, false, false, false])
        #expect(Array(r.videoKeep[6..<12]) == [true, true, true, false, false, false])
    }

    @Test("an even frame keeps the density peak, not a sparse outlier")
    func densityPeaks() throws {
        // Five clustered tokens and one far away. The outlier has denser neighbours, so its delta
        // is its distance to them; the cluster's densest token (token 4, nearest to all others
        // on average) is a peak whose delta is its largest distance: rho * delta is highest there.
        var frame: [Float] = []
        for i in 0..<5 { frame += [1, 0.01 * Float(i)] }
        frame += [-1, 0.2]
        let one = try prune(frame, d: 2, runs: [6], p: 6, rhoVideo: 0.8) // nk = int(6 * 0.2) = 1
        #expect(one.videoKeep == [false, false, false, false, true, false])
    }

    @Test("hidden size 1 works")
    func oneDimension() throws {
        let r = try prune([1, 2, 3, 4, -1, -2, -3, -4], d: 1, runs: [8], p: 4, rhoVideo: 0.5)
        #expect(r.videoKeep.filter { $0 }.count == 4)
    }
}
