import COmniZipKernels

/// One worker's scratch for the first video pass, sized for the largest unit.
final class VideoWorkspace {
    let raw: Scratch<Float>, unit: Scratch<Float>, norms: Scratch<Float>, cross: Scratch<Float>
    let similarity: Scratch<Float>, transposed: Scratch<Float>, density: Scratch<Float>, score: Scratch<Float>

    /// `crossColumns`: pooled audio tokens when this pass computes the float32 cross-modal
    /// products, else 0.
    init(rows: Int, d: Int, p: Int, crossColumns: Int, buffers: BufferPool) {
        raw = Scratch(rows * d, from: buffers)
        unit = Scratch(rows * d, from: buffers)
        norms = Scratch(rows, from: buffers)
        cross = Scratch(crossColumns * rows, from: buffers)
        similarity = Scratch(p * p, from: buffers)
        transposed = Scratch(omnizip_gram_scratch(p, d), from: buffers)
        density = Scratch(p, from: buffers)
        score = Scratch(p, from: buffers)
    }
}
