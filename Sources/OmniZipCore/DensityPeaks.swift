import COmniZipKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// DPC-kNN saliency of the P tokens of one frame (density-peak clustering score).
enum DensityPeaks {
    /// Scores `rows` (P unit-normalised rows of length D, already in `unit`) into `score`.
    /// `similarity` is P×P scratch; `density` is P scratch.
    /// The similarities are FMA chains in ascending k (`omnizip_gram_fma`), the order the
    /// reference's matrix product used: the duplicate-token ties of the golden vectors hinge on
    /// those last bits. `transposeScratch` holds `d * roundUp(p, 32)` floats.
    static func score(
        unit: UnsafePointer<Float>, tokens p: Int, dimension d: Int,
        similarity: UnsafeMutablePointer<Float>, transposeScratch: UnsafeMutablePointer<Float>,
        density: UnsafeMutablePointer<Float>, score: UnsafeMutablePointer<Float>
    ) {
        omnizip_gram_fma(unit, p, d, similarity, transposeScratch)
        // dist = 1 - sim, computed on the fly; the diagonal is +inf for the kNN part.
        let k = min(5, p - 1)
        var nearest = [Float](repeating: .infinity, count: max(k, 1))
        for row in 0..<p {
            for i in 0..<k { nearest[i] = .infinity }
            let sims = similarity + row * p
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
        for row in 0..<p {
            let sims = similarity + row * p
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
