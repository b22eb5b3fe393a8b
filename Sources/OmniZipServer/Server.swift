#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Logging
import OmniZipCore
import Prometheus

/// The omnizip HTTP server.
///
/// Threads: one loop thread (started by `start`) owns every socket, parser and piece of
/// request state; compression runs on Dispatch worker threads and comes back through a
/// lock-protected queue and `uv_async_send`. This object itself only holds what any thread
/// may ask for (the port, the door into the loop), behind a mutex.
public final class Server: Sendable {
    public let configuration: ServerConfiguration
    /// The registry `/metrics` serves (this server's own; see `ServerMetrics`).
    public let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let state = Locked(State())
    private let finished = DispatchGroup()

    private struct State {
        var started = false
        var port: Int?
        var completions: CompletionQueue?
    }

    /// `logger` defaults to one line per event on stdout in `configuration.logFormat`.
    public init(configuration: ServerConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger ?? Logger(label: "omnizip.server") { _ in LineLogHandler(format: configuration.logFormat) }
    }

    /// The bound TCP port once started (nil without a TCP listener).
    public var port: Int? { state.withLock { $0.port } }

    /// Binds and starts the loop thread; returns once listening, with the bound TCP port (0
    /// when only a Unix socket listens).
    @discardableResult
    public func start() throws(ServerError) -> Int {
        try state.withLock { state throws(ServerError) in
            guard !state.started else { throw ServerError("the server was already started") }
            state.started = true
        }
        // A client that vanishes must cost us an EPIPE, not the process.
        signal(SIGPIPE, SIG_IGN)
        if configuration.handleSignals {
            // SIGINT and SIGTERM go to the loop thread alone (it unblocks them; threads started
            // from here inherit the block). A thread parked in a wait that ThreadSanitizer does
            // not intercept would otherwise take the signal and never run the handler.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &set, nil)
        }
        let outcome = Locked<Result<Int?, ServerError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        finished.enter()
        let started = DetachedThread.start(name: "omnizip-loop") { [self] in
            defer { finished.leave() }
            let loop: ServerLoop
            let port: Int?
            do {
                loop = try ServerLoop(configuration: configuration, logger: logger, registry: registry)
                port = try loop.open()
            } catch let error as ServerError {
                outcome.withLock { $0 = .failure(error) }
                ready.signal()
                return
            } catch {
                outcome.withLock { $0 = .failure(ServerError("\(error)")) }
                ready.signal()
                return
            }
            state.withLock {
                $0.port = port
                $0.completions = loop.completions
            }
            logStartup(port: port)
            outcome.withLock { $0 = .success(port) }
            ready.signal()
            loop.run()
            state.withLock { $0.completions = nil }
        }
        if !started {
            finished.leave()
            outcome.withLock { $0 = .failure(ServerError("cannot start the event loop thread")) }
            ready.signal()
        }
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case let .success(port): return port ?? 0
        case let .failure(error): throw error
        case nil: throw ServerError("the loop thread ended before listening")
        }
    }

    /// Starts, then blocks until shut down by SIGINT/SIGTERM (or `stop`). For the CLI.
    public func run() throws(ServerError) {
        ServerMetrics.bootstrapOnce(registry)
        defer { StdoutWriter.shared.flush() }
        try start()
        waitUntilStopped()
    }

    /// Begins a graceful shutdown, like SIGTERM: returns once the listener is closed (new
    /// connections are refused); in-flight requests still complete. Safe from any thread but
    /// the loop's.
    public func stop() {
        guard let completions = state.withLock({ $0.completions }) else { return }
        let ack = DispatchSemaphore(value: 0)
        if completions.post(.drain(ack)) { ack.wait() }
    }

    /// Blocks until the loop has finished (after `stop` or a signal).
    public func waitUntilStopped() {
        finished.wait()
    }

    /// One line naming every listener: `address`/`host`/`port` for TCP, `unix_socket` (and
    /// `address` "unix:PATH" when it is the only one) for the Unix socket.
    private func logStartup(port: Int?) {
        let c = configuration
        var metadata: Logger.Metadata = [
            "workers": .stringConvertible(c.workers),
            "max_inflight": .stringConvertible(c.maxInflight), "max_body_bytes": .stringConvertible(c.maxBodyBytes),
            "max_buffered_bytes": .stringConvertible(c.maxBufferedBytes), "max_connections": .stringConvertible(c.maxConnections),
            "min_upload_rate": .stringConvertible(c.minUploadRate),
            "request_timeout_s": .stringConvertible(c.requestTimeout), "log_format": .string(c.logFormat.rawValue),
            "version": .string(c.version), "kernels": .string(KernelPath.current), "pid": .stringConvertible(Int(getpid())),
        ]
        if let port {
            metadata["address"] = .string(c.host.contains(":") ? "[\(c.host)]:\(port)" : "\(c.host):\(port)")
            metadata["host"] = .string(c.host)
            metadata["port"] = .stringConvertible(port)
        }
        if let path = c.unixSocket {
            if port == nil { metadata["address"] = .string("unix:\(path)") }
            metadata["unix_socket"] = .string(path)
            metadata["unix_socket_mode"] = .string("0" + String(c.unixSocketMode, radix: 8))
        }
        logger.info("listening", metadata: metadata)
    }
}
