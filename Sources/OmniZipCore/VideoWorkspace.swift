import COmniZipKernels

/// One worker's scratch for the first video pass, sized for the largest unit.
final class VideoWorkspace {
    let raw: Scratch<Float>, unit: Scratch<Float>, norms: Scratch<Float>, cross: Scratch<Float>
    let similarity: Scratch<Float>, transposed: Scratch<Float>, density: Scratch<Float>, score: Scratch<Float>

    /// `crossColumns`: pooled audio tokens when this pass computes the float32 cross-modal
    /// products, else 0.
    init(rows: Int, d: Int, p: Int, crossColumns: Int, buffers: BufferPool) throws(OmniZipError) {
        raw = try .required(rows * d, from: buffers)
        unit = try .required(rows * d, from: buffers)
        norms = try .required(rows, from: buffers)
        cross = try .required(crossColumns * rows, from: buffers)
        similarity = try .required(p * p, from: buffers)
        transposed = try .required(omnizip_gram_scratch(p, d), from: buffers)
        density = try .required(p, from: buffers)
        score = try .required(p, from: buffers)
    }
}
