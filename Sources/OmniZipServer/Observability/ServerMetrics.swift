import CoreMetrics
import Metrics
import OmniZipCore
import OmniZipWire
import Prometheus
import Synchronization

/// The server's metrics, in this server's own Prometheus registry (never the global
/// MetricsSystem), so that many servers in one process each count their own and registering
/// twice never traps. Every family carries its `# HELP` text (`promtool check metrics` in
/// `make smoke` holds the exposition to that). The handles are cached here; only the loop thread
/// records, so the caches need no lock.
final class ServerMetrics {
    let registry: PrometheusCollectorRegistry
    private var durations: [String: DurationHistogram] = [:]
    private var rejections: [String: Prometheus.Counter] = [:]
    private var tokens: [String: Prometheus.Counter] = [:]
    private var phases: [String: DurationHistogram] = [:]
    private var refusedConnections: [String: Prometheus.Counter] = [:]
    private let inflight: Prometheus.Gauge
    private let connections: Prometheus.Gauge
    private let queued: Prometheus.Gauge
    private let streamed: Prometheus.Counter
    private let process: ProcessMetrics

    static let durationName = "omnizip_http_request_duration_seconds"
    static let phaseName = "omnizip_request_phase_duration_seconds"
    private static let buckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// Each family's name with its help text, stated once.
    private static func family(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
    private static var durationFamily: MetricNameDescriptor {
        family(durationName, "Time from a request's first byte to its response written, by endpoint and status.")
    }
    private static var phaseFamily: MetricNameDescriptor {
        family(phaseName, "Time of each phase of a compressed request: queue, decode, compress, encode.")
    }
    private static var rejectedFamily: MetricNameDescriptor {
        family(
            "omnizip_http_requests_rejected_total", "Error responses, by reason (the error code of the response).")
    }
    private static var connectionsRejectedFamily: MetricNameDescriptor {
        family(
            "omnizip_http_connections_rejected_total", "Connections closed at accept: limit (--max-connections) or descriptors (EMFILE).")
    }
    private static var tokensFamily: MetricNameDescriptor {
        family("omnizip_tokens_total", "Audio and video tokens received (stage in) and kept (stage kept).")
    }

    init(registry: PrometheusCollectorRegistry, version: String) {
        self.registry = registry
        inflight = registry.makeGauge(
            descriptor: Self.family("omnizip_http_requests_inflight", "Admitted compress/score requests, queued or running."))
        connections = registry.makeGauge(descriptor: Self.family("omnizip_http_connections", "Open client connections."))
        queued = registry.makeGauge(descriptor: Self.family("omnizip_jobs_queued", "Complete requests waiting for a worker."))
        streamed = registry.makeCounter(
            descriptor: Self.family("omnizip_requests_streamed_total", "Compressions that started before their request body was complete."))
        registry.makeGauge(
            descriptor: Self.family("omnizip_build_info", "Always 1: the running build's version and the kernel path it uses."),
            labels: [("version", version), ("kernels", KernelPath.current)]
        ).set(to: 1)
        process = ProcessMetrics(registry: registry)
        inflight.set(to: 0)
        connections.set(to: 0)
        queued.set(to: 0)
    }

    func request(endpoint: String, status: Int, duration: Duration) {
        let key = endpoint + " " + String(status)
        let histogram =
            durations[key]
            ?? {
                let h = registry.makeDurationHistogram(
                    descriptor: Self.durationFamily, labels: [("endpoint", endpoint), ("status", String(status))], buckets: Self.buckets)
                durations[key] = h
                return h
            }()
        histogram.record(duration)
    }

    func rejected(reason: String) {
        counter(&rejections, reason, Self.rejectedFamily, [("reason", reason)]).increment()
    }

    /// A connection closed at accept: `limit` (--max-connections) or `descriptors` (EMFILE/ENFILE).
    func connectionRejected(reason: String) {
        counter(&refusedConnections, reason, Self.connectionsRejectedFamily, [("reason", reason)]).increment()
    }

    func tokens(_ counts: TokenCounts) {
        for (modality, stage, n) in [
            ("audio", "in", counts.totalAudio), ("audio", "kept", counts.keptAudio),
            ("video", "in", counts.totalVideo), ("video", "kept", counts.keptVideo),
        ] {
            counter(&tokens, modality + stage, Self.tokensFamily, [("modality", modality), ("stage", stage)]).increment(by: Int64(n))
        }
    }

    func phases(_ values: [(name: String, ms: Double)]) {
        for (name, ms) in values {
            let histogram =
                phases[name]
                ?? {
                    let h = registry.makeDurationHistogram(descriptor: Self.phaseFamily, labels: [("phase", name)], buckets: Self.buckets)
                    phases[name] = h
                    return h
                }()
            histogram.record(.nanoseconds(Int64(ms * 1e6)))
        }
    }

    func setInflight(_ n: Int) { inflight.set(to: Double(n)) }
    /// A compression started before its request body was complete.
    func streamStarted() { streamed.increment() }
    func setConnections(_ n: Int) { connections.set(to: Double(n)) }
    func setQueued(_ n: Int) { queued.set(to: Double(n)) }

    /// The exposition, with the process metrics read just now.
    func exposition() -> [UInt8] {
        process.refresh()
        return registry.emitToBuffer()
    }

    private func counter(
        _ cache: inout [String: Prometheus.Counter], _ key: String, _ family: MetricNameDescriptor, _ labels: [(String, String)]
    ) -> Prometheus.Counter {
        if let counter = cache[key] { return counter }
        let counter = registry.makeCounter(descriptor: family, labels: labels)
        cache[key] = counter
        return counter
    }

    /// Bootstraps the process-wide MetricsSystem once, so that libraries' own swift-metrics land
    /// in the served registry too. Later calls (a second server in one process) do nothing.
    static func bootstrapOnce(_ registry: PrometheusCollectorRegistry) {
        guard !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    private static let bootstrapped = Atomic<Bool>(false)
}
