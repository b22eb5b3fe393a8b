/// A slice of one video run that one worker takes in the first video pass: a pair of frames
/// (even, odd), a lone last frame, or the rows past the last whole frame (which only feed the
/// cross-modal maximum). A pair stays together: the odd frame is scored against the even one.
struct VideoUnit {
    var run: Int
    var start: Int // first video token of the unit
    var count: Int
    var firstFrame: Int // frame index within the run, or -1 for leftover rows

    static func units(_ layout: ChunkLayout) -> [VideoUnit] {
        let p = layout.tokensPerFrame
        var units: [VideoUnit] = []
        var start = 0
        for (run, length) in layout.videoRunLengths.enumerated() {
            let frames = length / p // P >= 1 whenever there is a video run
            var frame = 0
            while frame < frames {
                let n = min(2, frames - frame)
                units.append(VideoUnit(run: run, start: start + frame * p, count: n * p, firstFrame: frame))
                frame += n
            }
            let leftover = length - frames * p
            if leftover > 0 {
                units.append(VideoUnit(run: run, start: start + frames * p, count: leftover, firstFrame: -1))
            }
            start += length
        }
        return units
    }
}
