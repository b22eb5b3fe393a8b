import ArgumentParser
import OmniZipCore
import OmniZipSynthetic
import OmniZipWire

#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the core pipeline on standard synthetic workloads.",
        discussion: """
            Workloads (Qwen2.5-Omni layout, 2 x 120 video + 50 audio tokens per 2-second chunk, D = 3584, \
            rho_a 0.3, rho_v 0.6, cr 0.05, G 3): one-minute (30 chunks) and five-minute (150 chunks). \
            Times decoding the in-memory request plus compression; prints median and p90 milliseconds.
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
    @Option(help: "Worker threads (default: the number of cores).")
    var workers: Int = defaultWorkerCount()
    @Option(help: "Write the one-minute request to this path and exit (for timing `omnizip compress` or HTTP).")
    var emit: String?

    func run() throws {
        guard iterations > 0, workers > 0 else { throw ValidationError("--iterations and --workers must be positive") }
        if let emit {
            try writeFile(SyntheticClip.oneMinute.requestBody(elementType: dtype.elementType), to: emit)
            return
        }
        let compressor = Compressor(workers: workers)
        print("workload       dtype  tokens  workers  median_ms  p90_ms  tokens_per_s  kept")
        for (name, clip) in workload.clips {
            let body = clip.requestBody(elementType: dtype.elementType)
            var times: [Double] = []
            var kept = 0
            var phases: [PhaseTimings] = []
            try body.withUnsafeBytes { bytes in
                for i in 0...iterations {
                    let start = monotonicSeconds()
                    let decoded = try RequestDecoder.decode(bytes, requireEmbeddings: true)
                    let result = try compressor.compress(try decoded.compressionInput())
                    let elapsed = monotonicSeconds() - start
                    if i > 0 { times.append(elapsed); phases.append(result.timings) }
                    kept = result.plan.keptAudio + result.plan.keptVideo
                }
            }
            times.sort()
            let median = times[times.count / 2] * 1000
            let p90 = times[min(times.count - 1, Int((Double(times.count) * 0.9).rounded(.up)) - 1)] * 1000
            let tokens = clip.audioTokens + clip.videoTokens
            print(name.padding(14), dtype.rawValue.padding(6), String(tokens).padding(7), String(workers).padding(8),
                  format(median).padding(10), format(p90).padding(7), String(Int(Double(tokens) / (median / 1000))).padding(13), kept)
            func phaseMedian(_ key: KeyPath<PhaseTimings, Double>) -> String {
                format(phases.map { $0[keyPath: key] * 1000 }.sorted()[phases.count / 2])
            }
            print("  phases (median ms): plan \(phaseMedian(\.plan))  audio \(phaseMedian(\.audio))  video+cross-modal \(phaseMedian(\.video))  merge \(phaseMedian(\.merge))")
        }
    }

    private func format(_ x: Double) -> String {
        let scaled = (x * 10).rounded() / 10
        return String(scaled)
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
