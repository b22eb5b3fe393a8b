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
        /// The FMA width (256 or 512) whose ceiling this kernel is held against.
        public let width: Int?
    }

    /// The vector width whose FMAs the kernel path uses (nil for scalar).
    public static var pathWidth: Int? {
        switch KernelPath.current {
        case "avx2": return 256
        case "avx512", "avx512bf16": return 512
        default: return nil
        }
    }

    /// The FMA ceiling of one core at each width the kernel path runs (independent FMAs only,
    /// the best of `calls` runs of about 2 ms), by width.
    public static func ceilings(calls: Int = 20) -> [Int: Measurement] {
        var sink: Float = 0
        var found: [Int: Measurement] = [:]
        for width in [256, 512] where omnizip_fma_peak(Int32(width), 1, &sink) > 0 {
            var flops = 0.0
            let seconds = best(calls) { flops = omnizip_fma_peak(Int32(width), 1 << 18, &sink) }
            found[width] = Measurement(
                kernel: "ceiling: independent \(width)-bit FMAs", shape: "12 chains", flops: flops, seconds: seconds, width: width)
        }
        return found
    }

    /// Seconds per round of independent FMAs at the widest width the kernel path has (nil on
    /// the scalar path), the fastest of `calls` runs of about 0.5 ms: a unit of work that slows
    /// down with the core's clock and with a neighbour on the same core's FMA units, as the
    /// kernels do (benchmarks divide CPU time by it).
    public static func fmaRoundSeconds(calls: Int = 7) -> Double? {
        var sink: Float = 0
        guard let width = [512, 256].first(where: { omnizip_fma_peak(Int32($0), 1, &sink) > 0 }) else { return nil }
        let rounds = 1 << 16
        return best(calls) { _ = omnizip_fma_peak(Int32(width), rounds, &sink) } / Double(rounds)
    }

    /// The fastest of `calls` runs after a warm-up, in seconds.
    static func best(_ calls: Int, _ body: () -> Void) -> Double {
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
        func best(_ body: () -> Void) -> Double { Self.best(calls, body) }
        var results: [Measurement] = []

        let a = floats(m * d), b = floats(n * d), c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        _ = Kernels.singleThreadedBLAS
        results.append(
            Measurement(
                kernel: "f32 sgemm (OpenBLAS), cross-modal products", shape: "\(m) x \(n) x \(d)",
                flops: 2 * Double(m * n * d), seconds: best { Kernels.gemmABt(a, b, c, m: m, n: n, k: d) }, width: pathWidth))

        let gramRows = floats(p * d), gram = UnsafeMutablePointer<Float>.allocate(capacity: p * p)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: omnizip_gram_scratch(p, d))
        defer { gramRows.deallocate(); gram.deallocate(); scratch.deallocate() }
        results.append(
            Measurement(
                kernel: "f32 Gram, one FMA chain per entry (DPC-kNN)", shape: "\(p) x \(p) x \(d), GEMM-equivalent",
                flops: 2 * Double(p * p * d), seconds: best { omnizip_gram_fma(gramRows, p, d, gram, scratch) }, width: pathWidth))

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
                    kernel: "bf16 dot products + column max (\(KernelPath.current))", shape: "\(m) x \(n) x \(d)",
                    flops: 2 * Double(m * n * d),
                    seconds: best {
                        videoRows.withUnsafeBufferPointer { omnizip_bf16_max_similarity($0.baseAddress, n, d, packed, m, divisors, maxima) }
                    }, width: pathWidth))
        }
        return results
    }
}
