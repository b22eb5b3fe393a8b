import COmniZipKernels
import OmniZipSynthetic
import OmniZipTestSupport
import OmniZipWire
import Testing

@testable import OmniZipCore

@Suite("Compressor: whole pipeline, edge cases, determinism")
struct CompressorTests {
    let clip = SyntheticClip(chunks: 6, tokensPerFrame: 16, dimension: 40, audioPerChunk: 20, seed: 7)

    func clipInput(_ embeddings: OwnedRows, parameters: Parameters = .defaults) throws -> CompressionInput {
        var audio: [Int] = [], video: [Int] = []
        for position in 0..<clip.promptLength {
            if clip.isVideoPosition(position) { video.append(position) } else { audio.append(position) }
        }
        let layout = try ChunkLayout(
            audioRunLengths: ChunkLayout.runLengths(ofAscendingPositions: audio),
            videoRunLengths: ChunkLayout.runLengths(ofAscendingPositions: video),
            tokensPerFrame: clip.tokensPerFrame, gridTokens: video.count)
        let base = UnsafeRawPointer(embeddings.storage.baseAddress!)
        return try CompressionInput(
            audio: TokenRows(base: base, elementType: .float32, dimension: clip.dimension, rowIndices: audio),
            video: TokenRows(base: base, elementType: .float32, dimension: clip.dimension, rowIndices: video),
            audioScores: clip.audioScores(), layout: layout, parameters: parameters)
    }

    /// D4: the P×P matrix took 64 MiB a worker at P = 4,096 (1 GiB at 16,384): refused here
    /// before the matrix was held in bands, which need 16 MiB.
    @Test("a frame of 4,096 tokens compresses with 24 MiB of scratch")
    func largestFrameInBoundedScratch() throws {
        let p = ChunkLayout.maxTokensPerFrame, d = 4
        let values = noise(2 * p * d + d, seed: 4)
        let embeddings = OwnedRows(values, dimension: d)
        let layout = try ChunkLayout(audioRunLengths: [1], videoRunLengths: [2 * p], tokensPerFrame: p)
        let base = UnsafeRawPointer(embeddings.storage.baseAddress!)
        let input = try CompressionInput(
            audio: TokenRows(base: base, elementType: .float32, dimension: d, rowIndices: [0]),
            video: TokenRows(base: base, elementType: .float32, dimension: d, rowIndices: Array(1...(2 * p))),
            audioScores: [1], layout: layout, parameters: .defaults)
        let compressor = Compressor(workers: 1, scratchLimit: 24 << 20)
        let result = try compressor.compress(input)
        #expect(compressor.pool.buffers.lentBytes == 0)
        // Banded and whole matrices choose the same tokens (4 bands of 1,024 rows against 1).
        let whole = try Compressor(workers: 1, similarityBytes: p * p * 4).compress(input)
        #expect(result.videoKeep == whole.videoKeep)
        #expect(result.videoKeep.contains(true) && result.videoKeep.contains(false))
    }

    @Test("P is bounded: DPC-kNN's work per frame grows with P²")
    func framesAreBounded() throws {
        let p = ChunkLayout.maxTokensPerFrame
        _ = try ChunkLayout(audioRunLengths: [1], videoRunLengths: [2 * p], tokensPerFrame: p)
        #expect(throws: OmniZipError.tokensPerFrame(p + 1)) {
            try ChunkLayout(audioRunLengths: [1], videoRunLengths: [2 * (p + 1)], tokensPerFrame: p + 1)
        }
    }

    @Test("the same input gives identical results at any worker count", arguments: [1, 2, 3, 8])
    func workerInvariance(workers: Int) throws {
        let embeddings = OwnedRows(clip.promptEmbeddings(), dimension: clip.dimension)
        let reference = try Compressor(workers: 1).compress(clipInput(embeddings))
        let result = try Compressor(workers: workers).compress(clipInput(embeddings))
        #expect(result.videoKeep == reference.videoKeep)
        #expect(result.audioKeep == reference.audioKeep)
        #expect(result.mergedAnchors == reference.mergedAnchors)
        #expect(result.mergedEmbeddings.map(\.bitPattern) == reference.mergedEmbeddings.map(\.bitPattern))
        #expect(!reference.mergedAnchors.isEmpty)
    }

    @Test(
        "BF16 products: identical at any worker count, with several audio tiles and an odd D",
        .enabled(if: omnizip_has_bf16_dot() != 0, "this CPU has no AVX-512 BF16"), arguments: [2, 3, 8])
    func bf16WorkerInvariance(workers: Int) throws {
        // 600 audio tokens leave more than one 128-column tile of pooled tokens.
        let clip = SyntheticClip(chunks: 12, tokensPerFrame: 12, dimension: 37, audioPerChunk: 50, seed: 3)
        let body = clip.requestBody(elementType: .bfloat16)
        func run(_ workers: Int) throws -> CompressionResult {
            try body.withUnsafeBytes { bytes in
                let decoded = try RequestDecoder.decode(bytes, overrides: [:], requireEmbeddings: true)
                return try Compressor(workers: workers).compress(try decoded.compressionInput())
            }
        }
        let reference = try run(1), result = try run(workers)
        #expect(reference.plan.audio.pool.count > VideoPass.audioColumnsPerTile)
        #expect(result.videoKeep == reference.videoKeep)
        #expect(result.mergedAnchors == reference.mergedAnchors && result.mergedSources == reference.mergedSources)
        #expect(result.mergedEmbeddings.map(\.bitPattern) == reference.mergedEmbeddings.map(\.bitPattern))
        // The sources are ranked by cross-modal score: the float32 path ranks them the same.
        let float32 = try body.withUnsafeBytes { bytes in
            let decoded = try RequestDecoder.decode(bytes, overrides: [:], requireEmbeddings: true)
            return try Compressor(workers: workers, allowBF16DotProducts: false).compress(try decoded.compressionInput())
        }
        #expect(float32.mergedSources == reference.mergedSources)
    }

    @Test("the budget plan predicts exactly what compression keeps")
    func planMatchesResult() throws {
        let embeddings = OwnedRows(clip.promptEmbeddings(), dimension: clip.dimension)
        for rho in [0.0, 0.4, 0.6, 0.95] {
            let parameters = try Parameters(rhoAudio: 0.3, rhoVideo: rho, contextualRatio: 0.05, g: 3)
            let input = try clipInput(embeddings, parameters: parameters)
            let result = try Compressor(workers: 2).compress(input)
            let plan = try BudgetPlan(scores: input.audioScores, layout: input.layout, parameters: parameters)
            #expect(plan.keptVideo == result.videoKeep.filter { $0 }.count)
            #expect(plan.keptAudio == result.audioKeep.filter { $0 }.count)
            var start = 0
            for (run, length) in input.layout.videoRunLengths.enumerated() {
                #expect(result.videoKeep[start..<(start + length)].filter { $0 }.count == plan.videoChunkKept[run])
                start += length
            }
        }
    }

    @Test("merged anchors are the weighted mean of the anchor and its merge list")
    func mergeFormula() throws {
        // Two audio tokens only: token 0 dominant... rho_a 1 -> nothing dominant; cr 0.5 -> one anchor (0),
        // pool [1]; G 1 -> 1 merges into 0 with weight softmax([x]) = 1: (A0 + A1) / 2.
        let audio = OwnedRows([2, 0, 0, 4], dimension: 2)
        let video = OwnedRows([1, 1], dimension: 2)
        let input = try makeInput(
            audio: audio, audioCount: 2, video: video, videoCount: 1, scores: [1, 2], audioRuns: [2],
            videoRuns: [1], p: 1, parameters: try Parameters(rhoAudio: 1, rhoVideo: 0.6, contextualRatio: 0.5, g: 1))
        let result = try Compressor(workers: 1).compress(input)
        #expect(result.mergedAnchors == [0])
        #expect(result.mergedEmbeddings == [1, 2])
        #expect(result.audioKeep == [true, false])
    }

    @Test("merge sources: pooled, dropped, at most G per anchor, each merged once, highest cross-modal first")
    func mergeSources() throws {
        let embeddings = OwnedRows(clip.promptEmbeddings(), dimension: clip.dimension)
        for g in [0, 1, 3, 15] {
            let parameters = try Parameters(rhoAudio: 0.3, rhoVideo: 0.6, contextualRatio: 0.1, g: g)
            let result = try Compressor(workers: 2).compress(clipInput(embeddings, parameters: parameters))
            #expect(result.mergedSources.count == result.mergedAnchors.count)
            let pool = Set(result.plan.audio.pool)
            let all = result.mergedSources.flatMap { $0 }
            #expect(Set(all).count == all.count)
            #expect(all.allSatisfy { pool.contains($0) && !result.audioKeep[$0] })
            #expect(result.mergedSources.allSatisfy { !$0.isEmpty && $0.count <= g })
            #expect(Set(result.mergedAnchors).isSubset(of: Set(result.plan.audio.anchors)))
            if g > 0 { #expect(!all.isEmpty) }
        }
        // Two pool tokens, one anchor, G 1: the one taken is the one closer to the video.
        let audio = OwnedRows([1, 0, 0, 1, 1, 0.1], dimension: 2)
        let video = OwnedRows([0, 1], dimension: 2)
        let input = try makeInput(
            audio: audio, audioCount: 3, video: video, videoCount: 1, scores: [1, 2, 3], audioRuns: [3],
            videoRuns: [1], p: 1, parameters: try Parameters(rhoAudio: 1, rhoVideo: 0.6, contextualRatio: 0.34, g: 1))
        let result = try Compressor(workers: 1).compress(input)
        #expect(result.mergedAnchors == [0])
        #expect(result.mergedSources == [[1]])
    }

    @Test("no audio and no video both work")
    func missingModalities() throws {
        let rows = OwnedRows(noise(4 * 8, seed: 9), dimension: 4)
        let none = OwnedRows([], dimension: 4)
        let videoOnly = try Compressor(workers: 2).compress(
            makeInput(
                audio: none, audioCount: 0, video: rows, videoCount: 8, scores: [], audioRuns: [], videoRuns: [8], p: 4,
                parameters: .defaults))
        #expect(videoOnly.plan.videoChunkRatio == [0.6])
        #expect(videoOnly.plan.audioChunkRetention.isEmpty)
        let audioOnly = try Compressor(workers: 2).compress(
            makeInput(
                audio: rows, audioCount: 8, video: none, videoCount: 0, scores: noise(8, seed: 3), audioRuns: [8],
                videoRuns: [], p: 4, parameters: try Parameters(rhoAudio: 0.5, rhoVideo: 0.6, contextualRatio: 0.25, g: 3)))
        #expect(audioOnly.audioKeep.filter { $0 }.count == 6) // 4 dominant + 2 anchors
        #expect(audioOnly.videoKeep.isEmpty)
    }

    @Test("bad input is rejected with a message, not a crash")
    func rejections() throws {
        let rows = OwnedRows(noise(4 * 8, seed: 9) + [.nan, 0, 0, 0], dimension: 4)
        let none = OwnedRows([], dimension: 4)
        let compressor = Compressor(workers: 2)
        #expect(throws: OmniZipError.self) { // NaN in the video
            try compressor.compress(
                makeInput(
                    audio: none, audioCount: 0, video: rows, videoCount: 9, scores: [], audioRuns: [],
                    videoRuns: [9], p: 3, parameters: .defaults))
        }
        #expect(throws: OmniZipError.self) { // scores disagree with the audio count
            try compressor.compress(
                makeInput(
                    audio: rows, audioCount: 4, video: none, videoCount: 0, scores: [1, 2], audioRuns: [4],
                    videoRuns: [], p: 1, parameters: .defaults))
        }
        #expect(throws: OmniZipError.self) { // NaN score
            try compressor.compress(
                makeInput(
                    audio: rows, audioCount: 2, video: none, videoCount: 0, scores: [1, .nan], audioRuns: [2],
                    videoRuns: [], p: 1, parameters: .defaults))
        }
        #expect(throws: OmniZipError.ratio(name: "rho_video", value: 1.5)) {
            try Parameters(rhoAudio: 0.3, rhoVideo: 1.5, contextualRatio: 0.05, g: 3)
        }
        #expect(OmniZipError.ratio(name: "rho_video", value: 1.5).description == "parameter 'rho_video' must be a finite number in [0, 1], got 1.5")
        #expect(throws: OmniZipError.self) { try Parameters(rhoAudio: .nan, rhoVideo: 0.5, contextualRatio: 0.05, g: 3) }
        #expect(throws: OmniZipError.self) { try Parameters(rhoAudio: 0.3, rhoVideo: 0.5, contextualRatio: 0.05, g: -1) }
    }
}
