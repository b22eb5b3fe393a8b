import CBLAS
import COmniZipKernels

/// Dense float32 kernels on caller-owned buffers. GEMM goes to OpenBLAS, single-threaded per
/// call: parallelism comes from the worker pool, never from inside BLAS.
enum Kernels {
    /// C[m×n] = A[m×k] · B[n×k]ᵀ, all row-major and contiguous.
    static func gemmABt(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            c.update(repeating: 0, count: m * n)
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
            1, a, Int32(k), b, Int32(k), 0, c, Int32(n))
    }

    /// Euclidean norm of a row: rounded squares summed pairwise in numpy's order (the
    /// reference's near-ties were settled by float32 results computed this way).
    @inline(__always)
    static func norm(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        omnizip_dot_pairwise(x, x, count).squareRoot()
    }

    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        omnizip_dot_pairwise(x, y, count)
    }

    /// dst = src / divisor elementwise (true division, as the reference's `x / norm`).
    @inline(__always)
    static func divide(_ src: UnsafePointer<Float>, by divisor: Float, into dst: UnsafeMutablePointer<Float>, _ count: Int) {
        omnizip_divide(src, divisor, dst, count)
    }

    /// Limits OpenBLAS to the calling thread and stops its spinning pool; called once before
    /// the worker pool first runs.
    static let singleThreadedBLAS: Void = { omnizip_blas_single_threaded() }()
}
