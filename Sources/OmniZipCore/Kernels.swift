import CBLAS

/// Dense float32 kernels on caller-owned buffers. GEMM goes to OpenBLAS, single-threaded per
/// call: parallelism comes from the worker pool, never from inside BLAS.
enum Kernels {
    /// C[m×n] = A[m×k] · B[n×k]ᵀ, all row-major and contiguous.
    static func gemmABt(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                        m: Int, n: Int, k: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            c.update(repeating: 0, count: m * n)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(k), 0, c, Int32(n))
    }

    /// Euclidean norm of a row: rounded squares summed pairwise, in numpy's order (the reference's
    /// ties were settled by float32 results computed this way).
    @inline(__always)
    static func norm(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        dot(x, x, count).squareRoot()
    }

    /// Sum of rounded products `x[j] * y[j]`, pairwise as numpy's `add.reduce`: blocks of up to
    /// 128 in eight lanes, combined ((0+1)+(2+3))+((4+5)+(6+7)), larger spans halved recursively.
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        if count < 8 {
            var sum: Float = 0
            for j in 0..<count { sum += x[j] * y[j] }
            return sum
        }
        if count <= 128 {
            let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
            var lanes = SIMD8<Float>()
            var j = 0
            while j + 8 <= count {
                let product = rx.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
                    * ry.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
                lanes += product
                j += 8
            }
            var sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            while j < count {
                sum += x[j] * y[j]
                j += 1
            }
            return sum
        }
        var half = count / 2
        half -= half % 8
        return dot(x, y, half) + dot(x + half, y + half, count - half)
    }

    /// dst = src * (1 / divisor) elementwise, matching `x / divisor` per element.
    @inline(__always)
    static func divide(_ src: UnsafePointer<Float>, by divisor: Float, into dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for j in 0..<count { dst[j] = src[j] / divisor }
    }

    /// Limits OpenBLAS to the calling thread; called once before the pool first runs.
    static let singleThreadedBLAS: Void = { openblas_set_num_threads(1) }()
}
