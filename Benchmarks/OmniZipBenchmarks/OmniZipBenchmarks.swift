import Benchmark
import OmniZipCore
import OmniZipWire

// Each benchmark guards two metrics against the p90s committed in Benchmarks/Thresholds
// (`make bench-check`). Allocation counts do not depend on the machine's load, so their
// tolerance is a handful of allocations and they are the real regression guard. Wall clock on
// these shared 2-core machines is not: beside a neighbour's build the compression's p90 reached
// 3-4x a quiet one, and a 1 ms decode's p90 10 to 15 ms (scheduler slices). So wall clock only
// catches a gross slowdown: an unoptimised build, an accidental quadratic loop.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock],
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 20
    )

    // The core pipeline on the decoded request: budget plan, audio merge, the video pass with
    // the cross-modal maximum, on a pool of two workers started beforehand. Dispatch's own
    // allocations vary by a few between iterations (1,280 to 1,288 seen).
    Benchmark("compress-60s", configuration: guarded(allocations: 10, wallClock: .slowdown)) { _, setup in
        blackHole(try setup.compress())
    } setup: {
        try DecodedClip()
    }

    // The safetensors body (62 MB BF16) to a validated request, in place.
    Benchmark("decode-request-60s", configuration: guarded(allocations: 2, wallClock: .schedulerSlices)) { _, body in
        blackHole(try body.decode())
    } setup: {
        Clip60s.body()
    }

    // The default response (indices, merged anchors, ratios) as safetensors bytes.
    Benchmark("encode-response-60s", configuration: guarded(allocations: 2, wallClock: .schedulerSlices)) { _, setup in
        blackHole(ResponseEncoder.compress(setup.clip.request, setup.result, includeEmbeddings: false).serialized())
    } setup: {
        try CompressedClip()
    }

    // With `return=embeds`: the compressed sequence copied out of the request as well.
    Benchmark("encode-response-embeds-60s", configuration: guarded(allocations: 2, wallClock: .slowdown)) { _, setup in
        blackHole(ResponseEncoder.compress(setup.clip.request, setup.result, includeEmbeddings: true).serialized())
    } setup: {
        try CompressedClip()
    }
}

/// Wall-clock tolerances around the stored p90. Each metric gets one kind of tolerance only,
/// since the tool flags a deviation when either a relative or an absolute one is exceeded.
extension BenchmarkThresholds {
    /// For work of 10 ms or more: up to 5x the stored p90.
    static var slowdown: BenchmarkThresholds { BenchmarkThresholds(relative: [.p90: 400.0]) }
    /// For work of about a millisecond, whose p90 under load is a few scheduler slices: up to
    /// 50 ms over the stored p90.
    static var schedulerSlices: BenchmarkThresholds { BenchmarkThresholds(absolute: [.p90: .milliseconds(50)]) }
}

/// The default configuration with tolerances around the committed p90s: `allocations` more
/// (or fewer) mallocs than stored, and `wallClock`.
private func guarded(allocations: Int, wallClock: BenchmarkThresholds) -> Benchmark.Configuration {
    var configuration = Benchmark.defaultConfiguration
    configuration.thresholds = [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: allocations]), .wallClock: wallClock]
    return configuration
}
