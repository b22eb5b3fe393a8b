import COmniZipKernels

/// What the hot kernels reach on this CPU, one thread, at the shapes the one-minute clip gives
/// them: the ceiling `omnizip bench` compares each phase with (a roofline of compute only;
/// these kernels are compute-bound at D = 3584).
public enum KernelPeak {
    public struct Measurement: Sendable {
        public let kernel: String
        public let shape: String
        /// Floating-point operations per call (a multiply-add counts two).
        public let flops: Double
        /// Best of the timed calls, in seconds.
        public let seconds: Double
        public var gflops: Double { flops / seconds / 1e9 }
    }

    /// Each kernel is called `calls` times after a warm-up; the best time counts (a peak).
    public static func measure(calls: Int = 20, dimension d: Int = 3584) -> [Measurement] {
        let m = 375, n = 240, p = 120 // pooled audio tokens, a pair of frames, one frame
        // The values do not matter to the speed, only that they are ordinary numbers.
        func value(_ i: Int) -> Float { Float((i &* 2_654_435_761) % 1000) / 1000 - 0.5 }
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let x = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { x[i] = value(i) }
            return x
        }
        func best(_ body: () -> Void) -> Double {
            body()
            var fastest = Double.infinity
            let clock = ContinuousClock()
            for _ in 0..<max(1, calls) {
                let start = clock.now
                body()
                fastest = min(fastest, (clock.now - start).seconds)
            }
            return fastest
        }
        var results: [Measurement] = []

        let a = floats(m * d), b = floats(n * d), c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        _ = Kernels.singleThreadedBLAS
        results.append(
            Measurement(
                kernel: "f32 sgemm (OpenBLAS), cross-modal products", shape: "\(m) x \(n) x \(d)",
                flops: 2 * Double(m * n * d), seconds: best { Kernels.gemmABt(a, b, c, m: m, n: n, k: d) }))

        let gramRows = floats(p * d), gram = UnsafeMutablePointer<Float>.allocate(capacity: p * p)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: omnizip_gram_scratch(p, d))
        defer { gramRows.deallocate(); gram.deallocate(); scratch.deallocate() }
        results.append(
            Measurement(
                kernel: "f32 Gram, one FMA chain per entry (DPC-kNN)", shape: "\(p) x \(p) x \(d), GEMM-equivalent",
                flops: 2 * Double(p * p * d), seconds: best { omnizip_gram_fma(gramRows, p, d, gram, scratch) }))

        if omnizip_has_bf16_dot() != 0 {
            // As the pipeline runs it: m pooled audio rows packed, n video rows read in place.
            let audio = UnsafeMutablePointer<UInt16>.allocate(capacity: m * d)
            let video = UnsafeMutablePointer<UInt16>.allocate(capacity: n * d)
            let packed = UnsafeMutablePointer<UInt32>.allocate(capacity: omnizip_bf16_packed_size(m, d))
            let divisors = UnsafeMutablePointer<Float>.allocate(capacity: n), maxima = UnsafeMutablePointer<Float>.allocate(capacity: m)
            defer { audio.deallocate(); video.deallocate(); packed.deallocate(); divisors.deallocate(); maxima.deallocate() }
            for i in 0..<(m * d) { audio[i] = UInt16(truncatingIfNeeded: value(i).bitPattern >> 16) }
            for i in 0..<(n * d) { video[i] = UInt16(truncatingIfNeeded: value(i + 7).bitPattern >> 16) }
            for j in 0..<n { divisors[j] = 1 }
            for i in 0..<m { maxima[i] = -.infinity }
            let audioRows = (0..<m).map { Optional(UnsafeRawPointer(audio + $0 * d)) }
            audioRows.withUnsafeBufferPointer { omnizip_bf16_pack_columns($0.baseAddress, m, d, packed) }
            let videoRows = (0..<n).map { Optional(UnsafeRawPointer(video + $0 * d)) }
            results.append(
                Measurement(
                    kernel: "bf16 dot products + column max (AVX-512 BF16)", shape: "\(m) x \(n) x \(d)",
                    flops: 2 * Double(m * n * d),
                    seconds: best {
                        videoRows.withUnsafeBufferPointer { omnizip_bf16_max_similarity($0.baseAddress, n, d, packed, m, divisors, maxima) }
                    }))
        }
        return results
    }
}
