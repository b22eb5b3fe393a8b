import CoreMetrics
import Metrics
import OmniZipWire
import Prometheus
import Synchronization

/// The server's metrics, recorded through swift-metrics into this server's own Prometheus
/// registry (an explicit factory, never the global MetricsSystem), so that many servers in one
/// process each count their own and registering twice never traps. The handles are cached
/// here; only the loop thread records, so the caches need no lock.
final class ServerMetrics {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private var durations: [String: Metrics.Timer] = [:]
    private var rejections: [String: CoreMetrics.Counter] = [:]
    private var tokens: [String: CoreMetrics.Counter] = [:]
    private var phases: [String: Metrics.Timer] = [:]
    private var refusedConnections: [String: CoreMetrics.Counter] = [:]
    private let inflight: CoreMetrics.Gauge
    private let connections: CoreMetrics.Gauge
    private let streamed: CoreMetrics.Counter

    static let durationName = "omnizip_http_request_duration_seconds"
    static let phaseName = "omnizip_request_phase_duration_seconds"

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        let buckets: [Duration] = [
            .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.durationHistogramBuckets = [Self.durationName: buckets, Self.phaseName: buckets]
        self.factory = factory
        inflight = CoreMetrics.Gauge(label: "omnizip_http_requests_inflight", dimensions: [], factory: factory)
        connections = CoreMetrics.Gauge(label: "omnizip_http_connections", dimensions: [], factory: factory)
        streamed = CoreMetrics.Counter(label: "omnizip_requests_streamed_total", dimensions: [], factory: factory)
        inflight.record(0)
        connections.record(0)
    }

    func request(endpoint: String, status: Int, duration: Duration) {
        let key = endpoint + " " + String(status)
        let timer =
            durations[key]
            ?? {
                let t = Metrics.Timer(label: Self.durationName, dimensions: [("endpoint", endpoint), ("status", String(status))], factory: factory)
                durations[key] = t
                return t
            }()
        timer.record(duration: duration)
    }

    func rejected(reason: String) {
        let counter =
            rejections[reason]
            ?? {
                let c = CoreMetrics.Counter(label: "omnizip_http_requests_rejected_total", dimensions: [("reason", reason)], factory: factory)
                rejections[reason] = c
                return c
            }()
        counter.increment()
    }

    /// A connection closed at accept: `limit` (--max-connections) or `descriptors` (EMFILE/ENFILE).
    func connectionRejected(reason: String) {
        let counter =
            refusedConnections[reason]
            ?? {
                let c = CoreMetrics.Counter(label: "omnizip_http_connections_rejected_total", dimensions: [("reason", reason)], factory: factory)
                refusedConnections[reason] = c
                return c
            }()
        counter.increment()
    }

    func tokens(_ counts: TokenCounts) {
        for (modality, stage, n) in [
            ("audio", "in", counts.totalAudio), ("audio", "kept", counts.keptAudio),
            ("video", "in", counts.totalVideo), ("video", "kept", counts.keptVideo),
        ] {
            let key = modality + stage
            let counter =
                tokens[key]
                ?? {
                    let c = CoreMetrics.Counter(
                        label: "omnizip_tokens_total", dimensions: [("modality", modality), ("stage", stage)], factory: factory)
                    tokens[key] = c
                    return c
                }()
            counter.increment(by: n)
        }
    }

    func phases(_ values: [(name: String, ms: Double)]) {
        for (name, ms) in values {
            let timer =
                phases[name]
                ?? {
                    let t = Metrics.Timer(label: Self.phaseName, dimensions: [("phase", name)], factory: factory)
                    phases[name] = t
                    return t
                }()
            timer.recordNanoseconds(Int64(ms * 1e6))
        }
    }

    func setInflight(_ n: Int) { inflight.record(n) }
    /// A compression started before its request body was complete.
    func streamStarted() { streamed.increment() }
    func setConnections(_ n: Int) { connections.record(n) }

    /// Bootstraps the process-wide MetricsSystem once, so that libraries' own swift-metrics land
    /// in the served registry too. Later calls (a second server in one process) do nothing.
    static func bootstrapOnce(_ registry: PrometheusCollectorRegistry) {
        guard !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    private static let bootstrapped = Atomic<Bool>(false)
}
