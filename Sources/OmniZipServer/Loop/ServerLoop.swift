#if canImport(Glibc)
    import Glibc
#endif
import CUV
import Dispatch
import Logging
import OmniZipCore
import OmniZipExplain
import OmniZipWire
import Prometheus

/// Everything that lives on the loop thread: the libuv loop, the listeners, the connections,
/// admission, the job queue and the metrics. Nothing here is touched from another thread;
/// workers and `Server.stop` reach it only through `completions`. Shutdown is in Shutdown.swift.
final class ServerLoop {
    let configuration: ServerConfiguration
    let logger: Logger
    let metrics: ServerMetrics
    let loop: UnsafeMutablePointer<uv_loop_t>
    /// One read buffer shared by all connections: each read is parsed before the next one.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Large request bodies' memory, kept for the next request (see `ByteBuffer(capacity:reusing:)`).
    let bodies: BufferPool
    /// Bodies from this size on are read into reused blocks; smaller ones come from malloc's heap.
    static let reusedBodyBytes = 1 << 20
    private(set) var completions: CompletionQueue!
    /// Loop turns, for each connection's per-turn read budget.
    private(set) var readTurns: ReadTurns!
    // Shared with the shutdown extension (Shutdown.swift); loop thread only, like the rest.
    var draining = false
    /// TCP and/or Unix socket; connections from both share the limits and everything else.
    var listeners: [Listener] = []
    var connections: [ObjectIdentifier: Connection] = [:]
    var admission: Admission
    /// Which requests and streams hold the worker slots (JobScheduler.swift).
    var scheduler: Scheduler
    /// Jobs keyed by their exchange; streams are the compressions running on partial bodies.
    typealias Scheduler = JobScheduler<ObjectIdentifier, (job: Job, exchange: Exchange), StreamingCompression>
    var signals: [UnsafeMutablePointer<uv_signal_t>] = []
    var signalCount = 0
    var finished = false
    /// Between an EMFILE/ENFILE at accept and the next successful accept: logged once.
    private var descriptorsExhausted = false

    let compressor: Compressor
    /// Jobs run below the loop's priority: on a machine with as many busy workers as cores the
    /// loop (health probes, uploads, answers) still gets a core when it needs one.
    static let workerNiceness: Int32 = 10
    let jobQueue = DispatchQueue(label: "omnizip.jobs", qos: .userInitiated, attributes: .concurrent)
    /// Complete requests waiting for a worker, as pumps read it between two units: they give
    /// their workers back when there are any.
    let jobsWaiting = JobDemand()
    private var dateHeader = HTTPDate()

    init(configuration: ServerConfiguration, logger: Logger, registry: PrometheusCollectorRegistry) throws(ServerError) {
        self.configuration = configuration
        self.logger = logger
        metrics = ServerMetrics(registry: registry, version: configuration.version)
        compressor = Compressor(workers: configuration.workers, niceness: Self.workerNiceness, scratchLimit: configuration.scratchLimitBytes)
        admission = Admission(maxQueued: configuration.maxInflight, maxBufferedBytes: configuration.maxBufferedBytes)
        scheduler = JobScheduler(workers: configuration.workers)
        loop = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: 256 << 10, alignment: 64)
        bodies = BufferPool(retainedLimit: min(configuration.maxBufferedBytes / 2, 1 << 30))
        let status = uv_loop_init(loop)
        guard status == 0 else {
            // deinit frees the memory: every stored property is set by now.
            throw ServerError("cannot create the event loop: \(String(cString: uv_strerror(status)))")
        }
    }

    deinit {
        loop.deallocate()
        readBuffer.deallocate()
    }

    /// The thread running the loop: everything here belongs to it (checked in debug builds).
    private var loopThread = pthread_self()

    /// Debug builds trap when loop-only state is touched from another thread.
    @inline(__always)
    func assertOnLoopThread(_ function: StaticString = #function) {
        assert(pthread_equal(pthread_self(), loopThread) != 0, "\(function) runs off the loop thread")
    }

    var inflight: Int { admission.admitted }
    var queued: Int { scheduler.waiting }
    var workers: Int { configuration.workers }

    /// Sets up the handles and binds; returns the TCP port (nil when only a Unix socket
    /// listens). Loop thread.
    func open() throws(ServerError) -> Int? {
        loopThread = pthread_self()
        let me = Unmanaged.passUnretained(self).toOpaque()
        loop.pointee.data = me
        guard
            let queue = CompletionQueue(
                loop: loop, owner: me,
                callback: { handle in
                    guard let data = handle?.pointee.data else { return }
                    Unmanaged<ServerLoop>.fromOpaque(data).takeUnretainedValue().drainCompletions()
                })
        else { throw ServerError("cannot create the completion signal") }
        completions = queue
        guard let turns = ReadTurns(loop: loop) else {
            queue.close()
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
            throw ServerError("cannot create the loop's check handle")
        }
        readTurns = turns
        let onConnection: Listener.OnConnection = { stream, status in
            guard let stream, let data = stream.pointee.data else { return }
            Unmanaged<ServerLoop>.fromOpaque(data).takeUnretainedValue().accept(on: stream, status: status)
        }
        do throws(ServerError) {
            guard configuration.listensOnTCP || configuration.unixSocket != nil else { throw ServerError("nothing to listen on") }
            if configuration.listensOnTCP {
                listeners.append(
                    try .tcp(
                        loop: loop, host: configuration.host, port: configuration.port, owner: me,
                        onConnection: onConnection))
            }
            if let path = configuration.unixSocket {
                listeners.append(
                    try .unix(
                        loop: loop, path: path, mode: configuration.unixSocketMode, owner: me,
                        onConnection: onConnection))
            }
        } catch {
            for listener in listeners { listener.close() }
            listeners = []
            queue.close()
            turns.close()
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
            throw error
        }
        if configuration.handleSignals {
            // A parent may hand us these blocked (Foundation's Process does); unblocked on the
            // loop thread only, they are delivered here and nowhere else.
            var set = sigset_t()
            sigemptyset(&set)
            for signum in [SIGINT, SIGTERM] {
                sigaddset(&set, signum)
                installSignal(signum)
            }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
        return listeners.lazy.compactMap(\.port).first
    }

    /// Runs until drained, then releases the loop. Loop thread.
    func run() {
        uv_run(loop, UV_RUN_DEFAULT)
        if uv_loop_close(loop) != 0 {
            // A handle we forgot: close whatever is left rather than fail the shutdown.
            uv_walk(
                loop,
                { handle, _ in
                    if let handle, uv_is_closing(handle) == 0 { uv_close(handle, nil) }
                }, nil)
            uv_run(loop, UV_RUN_DEFAULT)
            _ = uv_loop_close(loop)
        }
    }

    func date() -> String { dateHeader.now() }

    // MARK: Connections

    private func accept(on stream: UnsafeMutablePointer<uv_stream_t>, status: Int32) {
        guard !draining, let listener = listeners.first(where: { $0.stream == stream }) else { return }
        if status == UV_EMFILE.rawValue || status == UV_ENFILE.rawValue {
            // libuv has already accepted and closed the connection with its spare descriptor.
            metrics.connectionRejected(reason: "descriptors")
            if !descriptorsExhausted {
                descriptorsExhausted = true
                logger.error(
                    "out of file descriptors: new connections are being closed",
                    metadata: [
                        "connections": .stringConvertible(connections.count), "max_connections": .stringConvertible(configuration.maxConnections),
                    ])
            }
            return
        }
        guard status == 0 else { return }
        if descriptorsExhausted {
            descriptorsExhausted = false
            logger.info("file descriptors available again", metadata: ["connections": .stringConvertible(connections.count)])
        }
        // Fails only if uv_tcp_init/uv_pipe_init does, which libuv never does without flags.
        guard let connection = Connection(server: self, transport: listener.transport) else {
            logger.error("cannot set up a connection")
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        guard connection.phase == .open, listener.accept(into: connection.stream) else {
            connection.close()
            return
        }
        if connections.count > configuration.maxConnections {
            // Out of slots: the connection that has stayed silent longest gives up its slot (a
            // socket that never sends must not keep a client that does out), or else the new
            // one is accepted only to be closed: a clean FIN at once, not a queue that never drains.
            if let silent = connections.values.filter({ $0 !== connection && $0.silentSince != nil })
                .min(by: { $0.silentSince! < $1.silentSince! })
            {
                metrics.connectionRejected(reason: "silent")
                silent.close()
            } else {
                metrics.connectionRejected(reason: "limit")
                connection.close()
                return
            }
        }
        metrics.setConnections(connections.count)
        connection.start()
    }

    func connectionClosed(_ connection: Connection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
        metrics.setConnections(connections.count)
        maybeFinish()
    }
}
