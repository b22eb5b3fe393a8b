/// How much of the video the report draws. Long clips get thumbnails after the first chunks so
/// the page stays quick to read and to render; the thumbnails still hold every patch.
public enum ExplainDetail: String, Sendable, CaseIterable {
    /// Full up to `compactAbove` chunks, compact beyond.
    case auto
    /// Every chunk's frames in full, with captions.
    case full
    /// The first `fullChunks` chunks in full, the rest as thumbnails.
    case compact

    public static let compactAbove = 12
    public static let fullChunks = 3

    /// How many chunks (from the start) are drawn in full for a clip of `chunks` chunks.
    public func chunksInFull(of chunks: Int) -> Int {
        switch self {
        case .full: chunks
        case .compact: min(chunks, Self.fullChunks)
        case .auto: chunks > Self.compactAbove ? Self.fullChunks : chunks
        }
    }
}
