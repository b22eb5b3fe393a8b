import OmniZipCore

/// What a request says about its sizes, read from tensors or JSON fields but not yet checked.
/// `build` is the one way both decoders turn it into a `ChunkLayout`: the core's rules apply to
/// every request alike, and its refusals come back worded for what this client sent.
struct DeclaredLayout {
    var audioRuns: [Int]
    var videoRuns: [Int]
    /// `.none` only from JSON, which may leave out the frame size when there is no video.
    var frames: WireError.Wording.Frames
    var container: WireError.Wording.Container
    var tokens: WireError.Wording.Tokens = .runLengths

    /// The layout; with `scores`, also the budget plan's check that they fit it.
    func build(scores: [Float]?) throws(WireError) -> ChunkLayout {
        let layout: ChunkLayout
        do throws(OmniZipError) {
            layout =
                switch frames {
                case let .grid(t, h, w): try ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, grid: (t, h, w))
                case let .tokensPerFrame(p): try ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: p)
                // P is never read without video; with video the request is refused just below.
                case .none: try ChunkLayout(audioRunLengths: audioRuns, videoRunLengths: videoRuns, tokensPerFrame: 1)
                }
        } catch {
            throw refusal(error)
        }
        if case .none = frames, !videoRuns.isEmpty {
            throw WireError(.missingField, "field 'tokens_per_frame' (or 'video_grid_thw') missing")
        }
        if let scores {
            do throws(OmniZipError) {
                try BudgetPlan.checkScores(scores, layout: layout)
            } catch {
                throw refusal(error)
            }
        }
        return layout
    }

    private func refusal(_ error: OmniZipError) -> WireError {
        WireError.core(error, WireError.Wording(container: container, tokens: tokens, frames: frames))
    }
}
