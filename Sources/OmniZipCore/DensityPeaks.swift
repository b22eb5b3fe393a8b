import COmniZipKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// DPC-kNN saliency of the P tokens of one frame (density-peak clustering score).
enum DensityPeaks {
    /// Similarity rows a worker holds at once. Frames up to 2,048 tokens fit whole and their
    /// matrix is computed once, symmetrically; larger ones go in bands of rows, each computed
    /// twice (densities need every row's neighbours before any δ), so the scratch stays 16 MiB
    /// instead of growing with P² (64 MiB a worker at 4,096 tokens).
    static let similarityBytes = 16 << 20

    /// The k of the kNN density: each token's 5 nearest others (fewer in a smaller frame).
    static let neighbours = 5

    /// Rows of the similarity matrix held at once for a frame of P tokens.
    static func bandRows(tokens p: Int, bytes: Int = similarityBytes) -> Int {
        max(1, min(p, bytes / (max(p, 1) * MemoryLayout<Float>.size)))
    }

    /// Scores `unit` (P unit-normalised rows of length D) into `score`. `similarity` holds
    /// `bandRows * p` floats; `packed` holds `omnizip_gram_scratch(p, d)`; `density` P.
    /// The similarities are FMA chains in ascending k (`omnizip_gram_fma`), the order the
    /// reference's matrix product used: the duplicate-token ties of the golden vectors hinge on
    /// those last bits. A band's rows are the whole matrix's rows to the bit.
    static func score(
        unit: UnsafePointer<Float>, tokens p: Int, dimension d: Int, bandRows: Int,
        similarity: UnsafeMutablePointer<Float>, packed: UnsafeMutablePointer<Float>,
        density: UnsafeMutablePointer<Float>, score: UnsafeMutablePointer<Float>
    ) {
        let whole = bandRows >= p
        if whole { omnizip_gram_fma(unit, p, d, similarity, packed) } else { omnizip_gram_pack(unit, p, d, packed) }
        /// Puts the band from row `first` in `similarity` (a no-op when the matrix is whole).
        func band(from first: Int) -> Range<Int> {
            let last = min(p, first + bandRows)
            if !whole { omnizip_gram_rows_fma(unit, p, d, first, last, similarity, packed) }
            return first..<last
        }
        // dist = 1 - sim, computed on the fly; the diagonal is +inf for the kNN part.
        let k = min(neighbours, p - 1)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: neighbours) { nearest in
            for first in stride(from: 0, to: p, by: bandRows) {
                let rows = band(from: first)
                for row in rows {
                    for i in 0..<k { nearest[i] = .infinity }
                    let sims = similarity + (row - first) * p
                    for q in 0..<p where q != row {
                        let dist = 1 - sims[q]
                        // Insertion into the k smallest, ascending.
                        if k > 0, dist < nearest[k - 1] {
                            var i = k - 1
                            while i > 0, nearest[i - 1] > dist {
                                nearest[i] = nearest[i - 1]
                                i -= 1
                            }
                            nearest[i] = dist
                        }
                    }
                    var sum: Float = 0
                    for i in 0..<k { sum += nearest[i] }
                    density[row] = expf(-(sum / Float(k)))
                }
            }
        }
        for first in stride(from: 0, to: p, by: bandRows) {
            for row in band(from: first) {
                let sims = similarity + (row - first) * p
                let rho = density[row]
                var closestDenser = Float.infinity
                var farthest: Float = 0 // the diagonal counts as distance 0
                var hasDenser = false
                for q in 0..<p where q != row {
                    let dist = 1 - sims[q]
                    if density[q] > rho {
                        hasDenser = true
                        if dist < closestDenser { closestDenser = dist }
                    }
                    if dist > farthest { farthest = dist }
                }
                score[row] = rho * (hasDenser ? closestDenser : farthest)
            }
        }
    }
}
