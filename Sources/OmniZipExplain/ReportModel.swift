import OmniZipCore
import OmniZipWire

/// What the report draws, read off one `CompressionResult` and its `DecodedRequest`: chunks,
/// frames and audio token roles. Only indexing and counting happens here; every ratio, mask
/// and count comes from the result, so the picture cannot disagree with `/v1/compress`.
struct ReportModel {
    struct Frame {
        /// Index within its run: even frames are pruned by DPC-kNN, odd ones by change.
        var index: Int
        /// First video token of the frame (index within the video tokens).
        var start: Int
        var kept: Int
        var isEven: Bool { index % 2 == 0 }
    }

    struct Chunk {
        var index: Int
        var guided: Bool
        /// Audio tokens of this chunk's audio run (start, length), if it has one.
        var audio: Range<Int>?
        var audioKept: Int
        /// Guided runs only: kept fraction, and the video ratio it alone gives.
        var retention: Double?
        var baseRatio: Double?
        /// The video run (range within the video tokens), its ratio and kept count.
        var video: Range<Int>?
        var ratio: Double?
        var videoKept: Int
        var frames: [Frame]
        /// A run shorter than one frame (kept whole).
        var keptWhole: Bool
        /// Tokens past the last whole frame (dropped).
        var leftover: Range<Int>?
    }

    enum AudioRole { case dominant, anchor, merged, dropped }

    let request: DecodedRequest
    let result: CompressionResult
    let counts: TokenCounts
    let chunks: [Chunk]
    let audioRoles: [AudioRole]
    /// Merged-away audio token -> the anchor it went into.
    let mergedInto: [Int: Int]
    let frameRows: Int
    let frameColumns: Int

    init(request: DecodedRequest, result: CompressionResult) {
        let grid = request.videoGrid
        self.request = request
        self.result = result
        counts = TokenCounts(request, result.plan, merged: result.mergedAnchors.count)
        let layout = request.chunks, plan = result.plan
        let p = layout.tokensPerFrame
        // P = (H/2)(W/2); without a readable grid, draw frames as one row of P.
        if let grid, grid.h / 2 * (grid.w / 2) == p, p > 0 {
            frameRows = grid.h / 2
            frameColumns = grid.w / 2
        } else {
            frameRows = 1
            frameColumns = max(1, p)
        }

        var chunks: [Chunk] = []
        var audioStart = 0, videoStart = 0
        for i in 0..<max(layout.audioRunLengths.count, layout.videoRunLengths.count) {
            let guided = i < layout.guidedRunCount
            var chunk = Chunk(
                index: i, guided: guided, audio: nil, audioKept: 0, retention: nil, baseRatio: nil, video: nil,
                ratio: nil, videoKept: 0, frames: [], keptWhole: false, leftover: nil)
            if i < layout.audioRunLengths.count {
                let range = audioStart..<(audioStart + layout.audioRunLengths[i])
                chunk.audio = range
                chunk.audioKept = result.audioKeep[range].reduce(0) { $0 + ($1 ? 1 : 0) }
                audioStart = range.upperBound
            }
            if guided {
                chunk.retention = plan.audioChunkRetention[i]
                chunk.baseRatio = plan.videoChunkBaseRatio[i]
            }
            if i < layout.videoRunLengths.count {
                let range = videoStart..<(videoStart + layout.videoRunLengths[i])
                chunk.video = range
                chunk.ratio = plan.videoChunkRatio[i]
                chunk.videoKept = plan.videoChunkKept[i]
                if let perFrame = plan.videoFrameKept[i] {
                    chunk.frames = perFrame.enumerated().map { Frame(index: $0, start: range.lowerBound + $0 * p, kept: $1) }
                    let end = range.lowerBound + perFrame.count * p
                    if end < range.upperBound { chunk.leftover = end..<range.upperBound }
                } else {
                    chunk.keptWhole = true
                }
                videoStart = range.upperBound
            }
            chunks.append(chunk)
        }
        self.chunks = chunks

        var roles = result.audioKeep.map { $0 ? AudioRole.dominant : .dropped }
        for a in plan.audio.anchors { roles[a] = .anchor }
        var into: [Int: Int] = [:]
        for (anchor, sources) in zip(result.mergedAnchors, result.mergedSources) {
            for s in sources {
                roles[s] = .merged
                into[s] = anchor
            }
        }
        audioRoles = roles
        mergedInto = into
    }

    var framesDrawn: Int { chunks.reduce(0) { $0 + $1.frames.count } }
}
