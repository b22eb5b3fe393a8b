@testable import OmniZipCore

/// Owns float32 embeddings for a test and builds compression inputs over them.
final class OwnedRows {
    let storage: UnsafeMutableBufferPointer<Float>
    let dimension: Int

    init(_ values: [Float], dimension: Int) {
        storage = .allocate(capacity: max(1, values.count))
        _ = storage.initialize(from: values)
        self.dimension = dimension
    }

    deinit { storage.deallocate() }

    var count: Int { dimension == 0 ? 0 : storage.count / dimension }

    func rows(_ count: Int? = nil) -> TokenRows {
        let n = count ?? (dimension > 0 ? storage.count / dimension : 0)
        return TokenRows(
            base: UnsafeRawPointer(storage.baseAddress!), elementType: .float32, dimension: dimension,
            rowIndices: Array(0..<n))
    }
}

/// A split-layout input: `audio` rows and `video` rows with explicit run lengths.
func makeInput(
    audio: OwnedRows, audioCount: Int, video: OwnedRows, videoCount: Int, scores: [Float],
    audioRuns: [Int], videoRuns: [Int], p: Int, parameters: Parameters
) throws -> CompressionInput {
    try CompressionInput(
        audio: audio.rows(audioCount), video: video.rows(videoCount), audioScores: scores,
        layout: try ChunkLayout(
            audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: p,
            gridTokens: videoRuns.reduce(0, +)),
        parameters: parameters)
}
