import ArgumentParser
import OmniZipCore
import OmniZipSynthetic
import OmniZipWire

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the core pipeline on standard synthetic workloads.",
        discussion: """
            Workloads (Qwen2.5-Omni layout, 2 x 120 video + 50 audio tokens per 2-second chunk, D = 3584, \
            rho_a 0.3, rho_v 0.6, cr 0.05, G 3): one-minute (30 chunks) and five-minute (150 chunks). \
            Times decoding the in-memory request plus compression; prints median and p90 milliseconds, \
            and per phase its median time, its floating-point work (a multiply-add counts two), the \
            achieved GFLOP/s and its share of the total. --kernel-peak measures what the hot kernels \
            reach on one core of this CPU: the ceiling to compare the phases with.
            """
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case oneMinute = "one-minute", fiveMinutes = "five-minutes", all

        var clips: [(String, SyntheticClip)] {
            switch self {
            case .oneMinute: [("one-minute", .oneMinute)]
            case .fiveMinutes: [("five-minutes", .fiveMinutes)]
            case .all: [("one-minute", .oneMinute), ("five-minutes", .fiveMinutes)]
            }
        }
    }

    enum DType: String, ExpressibleByArgument, CaseIterable {
        case bf16, f16, f32
        var elementType: ElementType { self == .bf16 ? .bfloat16 : self == .f16 ? .float16 : .float32 }
    }

    @Option(help: "Which workload: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: Workload = .all
    @Option(help: "Embedding dtype of the request: bf16, f16 or f32.")
    var dtype: DType = .bf16
    @Option(help: "Timed iterations per workload (after one warm-up).")
    var iterations: Int = 15
    @Option(help: "Worker threads; the default is the cores this process may use.")
    var workers: Int = defaultWorkerCount()
    @Option(help: "Write the workload's request (one-minute unless --workload five-minutes) to this path and exit (for HTTP timings).")
    var emit: String?
    @Flag(help: "Measure the BF16 and F32 kernels' GFLOP/s on one core of this CPU and exit.")
    var kernelPeak = false
    @Flag(help: "Print the kernel path in use (scalar, avx2, avx512, avx512bf16; OMNIZIP_ISA picks a lower one) and exit.")
    var printIsa = false

    func run() throws {
        guard iterations > 0, workers > 0 else { throw ValidationError("--iterations and --workers must be positive") }
        if let problem = KernelPath.requestProblem { throw ValidationError(problem) }
        if printIsa {
            print(KernelPath.current)
            return
        }
        if let emit {
            let clip: SyntheticClip = workload == .fiveMinutes ? .fiveMinutes : .oneMinute
            try writeFile(clip.requestBody(elementType: dtype.elementType), to: emit)
            return
        }
        print("kernels: \(KernelPath.current) (this CPU's best: \(KernelPath.best))")
        if kernelPeak {
            printKernelPeak()
            return
        }
        let compressor = Compressor(workers: workers)
        let clock = ContinuousClock()
        print("workload       dtype  tokens  workers  median_ms  p90_ms  tokens_per_s  kept")
        for (name, clip) in workload.clips {
            let body = clip.requestBody(elementType: dtype.elementType)
            var times: [Double] = []
            var kept = 0
            var phases: [PhaseTimings] = []
            var work: PhaseWork?
            try body.withUnsafeBytes { bytes in
                for i in 0...iterations {
                    let start = clock.now
                    let decoded = try RequestDecoder.decode(bytes, requireEmbeddings: true)
                    let result = try compressor.compress(try decoded.compressionInput())
                    let elapsed = start.duration(to: clock.now)
                    if i > 0 {
                        times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
                        phases.append(result.timings)
                    }
                    kept = result.plan.keptAudio + result.plan.keptVideo
                    work = PhaseWork(
                        plan: result.plan, layout: decoded.chunks, dimension: decoded.dimension,
                        tiles: compressor.crossModalInTiles(dtype.elementType))
                }
            }
            times.sort()
            let median = times[times.count / 2] * 1000
            let p90 = times[min(times.count - 1, Int((Double(times.count) * 0.9).rounded(.up)) - 1)] * 1000
            let tokens = clip.audioTokens + clip.videoTokens
            print(
                name.padding(14), dtype.rawValue.padding(6), String(tokens).padding(7), String(workers).padding(8),
                format(median).padding(10), format(p90).padding(7), String(Int(Double(tokens) / (median / 1000))).padding(13), kept)
            printPhases(phases, work: work, total: median)
        }
    }

    /// Median time per phase, its work, the rate it ran at, and its share of the median total
    /// (decoding is the part of the total no phase covers).
    private func printPhases(_ phases: [PhaseTimings], work: PhaseWork?, total: Double) {
        // Medians do not add up: the video's remainder is taken per run, then its median.
        func median(_ seconds: (PhaseTimings) -> Double) -> Double { phases.map { seconds($0) * 1000 }.sorted()[phases.count / 2] }
        let rows: [(String, Double, Double)] = [
            ("plan", median(\.plan), 0), ("audio", median(\.audio), work?.audio ?? 0),
            ("video: frames", median(\.frames), work?.frames ?? 0), ("video: cross-modal", median(\.crossModal), work?.crossModal ?? 0),
            ("video: rest", median { max(0, $0.video - $0.frames - $0.crossModal) }, 0), ("merge", median(\.merge), 0),
        ]
        let covered = rows.reduce(0) { $0 + $1.1 }
        print("  phase              median_ms  gflop    gflop_per_s  share")
        for (name, ms, flops) in rows + [("decode+other", max(0, total - covered), 0)] {
            let rate = flops > 0 && ms > 0 ? format(flops / ms / 1e6) : "-"
            print(
                "  " + name.padding(19) + format(ms).padding(11) + (flops > 0 ? format(flops / 1e9) : "-").padding(9)
                    + rate.padding(13) + "\(Int((100 * ms / total).rounded()))%")
        }
    }

    /// Each kernel's GFLOP/s, and its share of the FMA ceiling of its path's width (the BF16
    /// kernel does two multiply-adds per FMA slot, so it can pass 100%).
    private func printKernelPeak() {
        let ceilings = KernelPeak.ceilings()
        print("kernel                                           shape                                  gflop_per_s  of_ceiling")
        for m in ceilings.keys.sorted().compactMap({ ceilings[$0] }) + KernelPeak.measure() {
            let share = m.width.flatMap { ceilings[$0] }.map { "\(Int((100 * m.gflops / $0.gflops).rounded()))%" } ?? "-"
            print(m.kernel.padding(49) + m.shape.padding(39) + format(m.gflops).padding(13) + share)
        }
    }

    private func format(_ x: Double) -> String {
        let scaled = (x * 10).rounded() / 10
        return String(scaled)
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
