import OmniZipCore

/// The indices a compress answer carries, derived once from a result so that the safetensors
/// and JSON answers (and the explain report) cannot disagree. Interleaved requests index prompt
/// positions; split requests index within each modality.
public struct CompressIndices: Sendable, Equatable {
    /// Interleaved: which prompt positions survive (text always does). Empty for split.
    public var keepMask: [Bool]
    /// Interleaved: the surviving positions, ascending. Empty for split.
    public var keptIndex: [Int]
    /// Split: surviving audio and video indices, ascending. Empty for interleaved.
    public var audioKeptIndex: [Int]
    public var videoKeptIndex: [Int]
    /// Anchors whose embedding the merge changed: prompt positions (interleaved) or audio
    /// indices (split), ascending.
    public var mergedIndex: [Int]

    public init(_ request: DecodedRequest, _ result: CompressionResult) {
        let audioKeep = result.audioKeep
        switch request.layout {
        case .interleaved:
            var keep = [Bool](repeating: true, count: request.promptLength)
            for (i, p) in request.audioPositions.enumerated() { keep[p] = audioKeep[i] }
            for (i, p) in request.videoPositions.enumerated() { keep[p] = result.videoKeep[i] }
            keepMask = keep
            keptIndex = keep.indices.filter { keep[$0] }
            audioKeptIndex = []
            videoKeptIndex = []
            mergedIndex = result.mergedAnchors.map { request.audioPositions[$0] }
        case .split:
            keepMask = []
            keptIndex = []
            audioKeptIndex = audioKeep.indices.filter { audioKeep[$0] }
            videoKeptIndex = result.videoKeep.indices.filter { result.videoKeep[$0] }
            mergedIndex = result.mergedAnchors
        }
    }
}
