import COmniZipKernels

/// One worker's scratch for the first video pass, sized for the largest unit.
final class VideoWorkspace {
    let raw: Scratch<Float>, unit: Scratch<Float>, norms: Scratch<Float>, cross: Scratch<Float>
    let similarity: Scratch<Float>, packed: Scratch<Float>, density: Scratch<Float>, score: Scratch<Float>
    /// Rows of a frame's similarity matrix `similarity` holds (`DensityPeaks.bandRows`).
    let bandRows: Int

    /// `crossColumns`: pooled audio tokens when this pass computes the float32 cross-modal
    /// products, else 0.
    init(rows: Int, d: Int, p: Int, crossColumns: Int, bandRows: Int, buffers: BufferPool) throws(OmniZipError) {
        raw = try .required(rows * d, from: buffers)
        unit = try .required(rows * d, from: buffers)
        norms = try .required(rows, from: buffers)
        cross = try .required(crossColumns * rows, from: buffers)
        self.bandRows = bandRows
        similarity = try .required(bandRows * p, from: buffers)
        packed = try .required(omnizip_gram_scratch(p, d), from: buffers)
        density = try .required(p, from: buffers)
        score = try .required(p, from: buffers)
    }
}
