import OmniZipCore

/// What a request implies, as `omnizip inspect` shows it: the layout (runs, frames, counts)
/// and which parameters it sets, read through the same decoder the server uses.
public struct RequestSummary: Sendable {
    public var layout: RequestLayout
    public var promptLength: Int
    public var audioTokens: Int
    public var videoTokens: Int
    public var textTokens: Int
    public var audioRuns: [Int]
    public var videoRuns: [Int]
    public var guidedRuns: Int
    /// `video_grid_thw`, when present and readable.
    public var grid: [Int64]?
    /// P and the frame's patch grid, (H/2) x (W/2).
    public var tokensPerFrame: Int
    public var frameRows: Int
    public var frameColumns: Int
    /// Whole frames in each video run (0: a run shorter than one frame, kept whole).
    public var framesPerRun: [Int]
    public var dimension: Int?
    public var embeddingDType: String?
    /// Parameters the request's `__metadata__` sets (raw strings), and the values in force.
    public var parametersSet: [(String, String)]
    public var parameters: Parameters
    public var audioTokenID: Int64
    public var videoTokenID: Int64

    init(_ request: DecodedRequest, file: SafetensorsFile, bytes: UnsafeRawBufferPointer) {
        layout = request.layout
        let chunks = request.chunks
        audioTokens = chunks.audioTokenCount
        videoTokens = chunks.videoTokenCount
        promptLength = request.layout == .interleaved ? request.promptLength : audioTokens + videoTokens
        textTokens = promptLength - audioTokens - videoTokens
        audioRuns = chunks.audioRunLengths
        videoRuns = chunks.videoRunLengths
        guidedRuns = chunks.guidedRunCount
        grid = file.tensor("video_grid_thw").flatMap { try? file.int64Values($0, in: bytes) }
        tokensPerFrame = chunks.tokensPerFrame
        frameRows = grid.map { Int($0[1]) / 2 } ?? 0
        frameColumns = grid.map { Int($0[2]) / 2 } ?? 0
        framesPerRun = chunks.videoRunLengths.map { $0 / chunks.tokensPerFrame } // P >= 1 with video
        let embeds = file.tensor("inputs_embeds") ?? file.tensor("audio_embeds") ?? file.tensor("video_embeds")
        dimension = embeds?.shape.last
        embeddingDType = embeds?.dtype.rawValue
        parametersSet = RequestOptions.overrideNames.sorted().compactMap { name in file.metadata[name].map { (name, $0) } }
        parameters = request.options.parameters
        audioTokenID = request.options.audioTokenID
        videoTokenID = request.options.videoTokenID
    }
}

/// How the server would answer a file as a request: 200 with the counts, or 400 with the error.
public enum RequestVerdict: Sendable {
    case accepted(TokenCounts)
    case refused(WireError)
}
