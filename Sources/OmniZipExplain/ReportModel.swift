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
    /// What the core ranked by (nil when the caller did not trace the compression).
    let trace: CompressionTrace?
    /// Audio tokens kept for their score (`dom`) and the lowest score among them: the cut-off of
    /// stage 1's one global top-`dom` selection (nil when `dom` is 0).
    let dominantCount: Int
    let audioCutoff: Float?
    /// Per audio token: 1 + its place in the global score order (highest first, ties to the
    /// lower index), the order stage 1 keeps `dom` of.
    let audioRank: [Int]
    /// Per pooled audio token (audio index): its slot in the trace's arrays.
    let poolSlot: [Int: Int]
    /// Per merged-away audio token: its softmax weight.
    let mergeWeight: [Int: Float]
    /// Audio tokens per second, when the request says which model's encoder made them.
    let audioRate: Double?

    init(request: DecodedRequest, result: CompressionResult, trace: CompressionTrace? = nil) {
        let grid = request.videoGrid
        self.request = request
        self.result = result
        self.trace = trace
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

        let scores = request.scores
        let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
        var rank = [Int](repeating: 0, count: scores.count)
        for (place, i) in order.enumerated() { rank[i] = place + 1 }
        audioRank = rank
        let dominant = roles.indices.filter { roles[$0] == .dominant }
        dominantCount = dominant.count
        audioCutoff = dominant.map { scores[$0] }.min()

        var slots: [Int: Int] = [:]
        var weights: [Int: Float] = [:]
        if let trace, trace.pool.count == plan.audio.pool.count {
            for (slot, i) in trace.pool.enumerated() { slots[i] = slot }
            for (sources, w) in zip(result.mergedSources, trace.mergeWeights) {
                for (s, weight) in zip(sources, w) { weights[s] = weight }
            }
        }
        poolSlot = slots
        mergeWeight = weights

        switch request.options.audioTokenID {
        case ModelPreset.qwen25Omni.audioTokenID: audioRate = 25
        case ModelPreset.qwen3Omni.audioTokenID: audioRate = 13
        default: audioRate = nil
        }
    }

    /// The trace's ranking values when they fit this request's video (nil otherwise).
    var videoValues: [Float]? {
        guard let trace, trace.videoValues.count == result.videoKeep.count, !trace.videoValues.isEmpty else { return nil }
        return trace.videoValues
    }

    /// Seconds from the start of the clip of audio token `i` (nil when the rate is unknown).
    func audioSeconds(_ i: Int) -> Double? { audioRate.map { Double(i) / $0 } }

    /// The time span of a chunk: that of its audio tokens (nil without audio or a known rate).
    func seconds(_ chunk: Chunk) -> (Double, Double)? {
        guard let audio = chunk.audio, let rate = audioRate else { return nil }
        return (Double(audio.lowerBound) / rate, Double(audio.upperBound) / rate)
    }

    /// The time span of a frame: its chunk's span split evenly among the chunk's frames.
    func seconds(_ frame: Frame, of chunk: Chunk) -> (Double, Double)? {
        guard let (start, end) = seconds(chunk), !chunk.frames.isEmpty else { return nil }
        let step = (end - start) / Double(chunk.frames.count)
        return (start + Double(frame.index) * step, start + Double(frame.index + 1) * step)
    }

    /// How the page's seconds were derived, or why it shows none.
    var timeNote: String {
        switch audioRate {
        case 25?:
            "Times assume Qwen2.5-Omni's 25 audio tokens per second (the request's audio_token_id \(request.options.audioTokenID)), with the audio covering the clip from 0 s: audio token i starts at i / 25 s, a chunk spans its audio tokens, and its frames (temporal grids) split that span evenly. The request carries no timestamps itself; video runs without paired audio have no time."
        case 13?:
            "Times assume Qwen3-Omni's 13 audio tokens per second (the request's audio_token_id \(request.options.audioTokenID)), with the audio covering the clip from 0 s: audio token i starts at i / 13 s, a chunk spans its audio tokens, and its frames split that span evenly. The request carries no timestamps itself; video runs without paired audio have no time."
        default:
            "No times in seconds: the request carries no timestamps, and its audio_token_id \(request.options.audioTokenID) names no model whose audio token rate omnizip knows."
        }
    }

    var framesDrawn: Int { chunks.reduce(0) { $0 + $1.frames.count } }
}
