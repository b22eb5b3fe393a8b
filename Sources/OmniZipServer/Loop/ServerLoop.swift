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
import Synchronization

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
    var runningJobs = 0
    var signals: [UnsafeMutablePointer<uv_signal_t>] = []
    var signalCount = 0
    var finished = false
    /// Between an EMFILE/ENFILE at accept and the next successful accept: logged once.
    private var descriptorsExhausted = false

    private let compressor: Compressor
    /// Jobs run below the loop's priority: on a machine with as many busy workers as cores the
    /// loop (health probes, uploads, answers) still gets a core when it needs one.
    static let workerNiceness: Int32 = 10
    private let jobQueue = DispatchQueue(label: "omnizip.jobs", qos: .userInitiated, attributes: .concurrent)
    private var readyJobs: [(job: Job, exchange: Exchange)] = []
    /// Compressions running on partial bodies, held weakly. At most `workers` hold their
    /// scratch at once (a job's: the pooled rows, normalised), which admission does not count;
    /// other bodies wait for their last byte.
    private var streams: [WeakStream] = []
    private struct WeakStream {
        weak var stream: StreamingCompression?
    }
    /// Pump jobs running each stream's units.
    private var pumping: [ObjectIdentifier: Int] = [:]
    /// Complete requests waiting for a worker; a pump gives its workers back when there are any.
    private let jobsWaiting = JobDemand()
    private var dateHeader = HTTPDate()

    init(configuration: ServerConfiguration, logger: Logger, registry: PrometheusCollectorRegistry) throws(ServerError) {
        self.configuration = configuration
        self.logger = logger
        metrics = ServerMetrics(registry: registry, version: configuration.version)
        compressor = Compressor(workers: configuration.workers, niceness: Self.workerNiceness)
        admission = Admission(maxQueued: configuration.maxInflight, maxBufferedBytes: configuration.maxBufferedBytes)
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

    // MARK: Requests

    /// From the headers alone: route, limits, media type, parameters, then admission; only
    /// then is the body's buffer allocated (once, sized from Content-Length).
    func headersComplete(_ exchange: Exchange) {
        assertOnLoopThread()
        Router.check(exchange, limits: .init(maxBodyBytes: configuration.maxBodyBytes, draining: draining))
        if exchange.response == nil, let endpoint = exchange.endpoint, endpoint.isWork {
            let capacity = exchange.contentLength ?? min(64 << 10, configuration.maxBodyBytes)
            switch admission.admit(reserving: capacity) {
            case let .failure(refusal):
                exchange.rejectError(429, .tooManyRequests, "\(refusal.message); retry after 1 s", headers: [("Retry-After", "1")])
                return
            case let .success(ticket):
                exchange.ticket = ticket
            }
            metrics.setInflight(admission.admitted)
            // Idle reused bodies and the bodies being held stay within --max-buffered-bytes.
            bodies.trim(keepingAtMost: admission.maxBufferedBytes - admission.bufferedBytes)
            guard let body = capacity >= ServerLoop.reusedBodyBytes ? ByteBuffer(capacity: capacity, reusing: bodies) : ByteBuffer(capacity: capacity)
            else {
                exchange.rejectError(
                    503, .insufficientMemory, "cannot allocate \(capacity) bytes for the body",
                    headers: [("Retry-After", "1")], close: true)
                return
            }
            exchange.body = body
            if endpoint == .compress || endpoint == .explain, exchange.contentLength != nil { exchange.prefixNeeded = 8 }
        }
    }

    /// More of a Content-Length body is in: start its compression once the header and small
    /// tensors are, then let it run what the new rows complete. A body that cannot stream (or
    /// does not decode) waits for its last byte; the whole-body path reports any error.
    func bodyProgress(_ exchange: Exchange) {
        guard let body = exchange.body, let base = body.base else { return }
        if let streaming = exchange.streaming {
            if streaming.compression.received(body.count) { startJobs() }
            return
        }
        guard let needed = exchange.prefixNeeded, body.count >= needed, let length = exchange.contentLength else { return }
        // All streams busy: try again on the next read (a slot may free up before the body ends).
        streams.removeAll { $0.stream?.holdsScratch != true }
        guard streams.count < configuration.workers else { return }
        let whole = UnsafeRawBufferPointer(start: base, count: length)
        switch RequestPrefix.decode(whole, received: body.count, overrides: Router.overrides(exchange)) {
        case let .needMore(bytes):
            exchange.prefixNeeded = bytes
        case .wholeBodyOnly:
            exchange.prefixNeeded = nil
        case let .ready(decoded):
            exchange.prefixNeeded = nil
            // The explain page draws the values the compression ranked by: trace that one.
            let trace = exchange.endpoint == .explain ? CompressionTrace() : nil
            guard let input = try? decoded.compressionInput(),
                let compression = try? StreamingCompression(input, compressor: compressor, bodyStart: base, keepAlive: body, trace: trace)
            else { return }
            exchange.streaming = StreamedRequest(decoded: decoded, compression: compression, trace: trace)
            streams.append(WeakStream(stream: compression))
            metrics.streamStarted()
            if compression.received(body.count) { startJobs() }
        }
    }

    /// A chunked body outgrows its reservation: reserve up to `bytes` more (doubling), or refuse.
    func reserveBody(_ exchange: Exchange, upTo bytes: Int) -> Bool {
        guard var ticket = exchange.ticket else { return true }
        guard bytes > ticket.reservedBytes else { return true }
        let target = min(max(bytes, 2 * ticket.reservedBytes), configuration.maxBodyBytes)
        let granted = admission.grow(&ticket, to: max(target, bytes))
        exchange.ticket = ticket
        return granted
    }

    /// The whole request is in: answer the cheap endpoints here, queue the rest for the pool.
    func requestReceived(_ exchange: Exchange) {
        if var ticket = exchange.ticket {
            admission.enqueue(&ticket)
            exchange.ticket = ticket
        }
        guard exchange.response == nil else { return }
        guard let endpoint = exchange.endpoint else {
            exchange.respond(ErrorBody.response(500, .internalError, "request without a route", requestID: exchange.requestID))
            return
        }
        switch endpoint {
        case .compress, .score, .budget, .explain:
            guard let body = exchange.body else {
                exchange.respond(ErrorBody.response(500, .internalError, "request body missing", requestID: exchange.requestID))
                return
            }
            let kind: Job.Kind =
                switch endpoint {
                case .compress: .compress(includeEmbeddings: exchange.query["return"] == "embeds", json: Router.wantsJSON(exchange.accept))
                case .budget: .budget
                case .explain: .explain(detail: exchange.query["detail"].flatMap(ExplainDetail.init(rawValue:)) ?? .auto)
                default:
                    .score(
                        json: exchange.contentType.map(mediaType) == "application/json",
                        safetensorsAnswer: Router.wantsSafetensors(exchange.accept))
                }
            let job = Job(
                kind: kind, body: body, streaming: exchange.streaming, overrides: Router.overrides(exchange), requestID: exchange.requestID,
                receivedAt: exchange.receivedAt)
            exchange.streaming = nil
            if endpoint.isLight, body.count <= configuration.inlineScoreBytes,
                let outcome = job.runInline(tokenLimit: configuration.inlineScoreTokens)
            {
                exchange.body = nil
                workDone(exchange)
                exchange.respond(outcome.response)
            } else {
                readyJobs.append((job, exchange))
                startJobs()
            }
        default:
            exchange.respond(OpsEndpoints.respond(endpoint, exchange: exchange, server: self))
        }
    }

    /// At most `workers` jobs run at once (each fans out over the pool itself); the rest wait
    /// here in arrival order. Worker slots no complete request needs run the ready units of
    /// bodies still arriving ("pump" jobs, which give the slot back between two units as soon
    /// as a complete request waits).
    private func startJobs() {
        defer { startPumps() }
        while runningJobs < configuration.workers, !readyJobs.isEmpty {
            let (job, exchange) = readyJobs.removeFirst()
            if exchange.abandoned {
                job.streaming?.compression.cancel()
                continue
            }
            runningJobs += 1
            exchange.jobRunning = true
            let token = LoopBound(value: exchange)
            let compressor = compressor, completions = completions!
            jobQueue.async {
                ThreadPriority.lower(to: ServerLoop.workerNiceness)
                let outcome = job.run(compressor)
                completions.post(.finished(token, outcome))
            }
        }
    }

    /// Each pump is one thread running one stream's ready units, in a worker slot no complete
    /// request wants; a stream gets no more pumps than it has ready units.
    private func startPumps() {
        queueChanged()
        while runningJobs < configuration.workers,
            let stream = streams.lazy.compactMap(\.stream).first(where: { $0.readyUnits > pumping[ObjectIdentifier($0), default: 0] })
        {
            runningJobs += 1
            pumping[ObjectIdentifier(stream), default: 0] += 1
            let completions = completions!, demand = jobsWaiting
            jobQueue.async {
                ThreadPriority.lower(to: ServerLoop.workerNiceness)
                stream.runReadyUnits { demand.count.load(ordering: .relaxed) > 0 }
                completions.post(.pumped(stream))
            }
        }
    }

    private func drainCompletions() {
        for item in completions.take() {
            switch item {
            case let .finished(token, outcome): jobFinished(token.value, outcome)
            case let .pumped(stream):
                runningJobs -= 1
                let id = ObjectIdentifier(stream)
                if let pumps = pumping[id], pumps > 1 { pumping[id] = pumps - 1 } else { pumping[id] = nil }
                startJobs()
            case let .drain(ack):
                beginDrain()
                ack?.signal()
            }
        }
        maybeFinish()
    }

    private func jobFinished(_ exchange: Exchange, _ outcome: JobOutcome) {
        assertOnLoopThread()
        runningJobs -= 1
        exchange.jobRunning = false
        exchange.body = nil
        workDone(exchange)
        exchange.outcome = RequestLog.Outcome(counts: outcome.counts, phases: outcome.phases)
        if let counts = outcome.counts { metrics.tokens(counts) }
        metrics.phases(outcome.phases)
        if exchange.abandoned {
            abandon(exchange)
        } else {
            exchange.respond(outcome.response)
            exchange.connection?.afterEvent()
        }
        startJobs()
    }

    /// The connection went away before this exchange's response was written.
    func abandon(_ exchange: Exchange) {
        exchange.abandoned = true
        guard !exchange.jobRunning else { return }
        // A queued job holds the body (and a stream's scratch): dropped with the ticket, not
        // when a worker would have reached it.
        if let queued = readyJobs.firstIndex(where: { $0.exchange === exchange }) {
            readyJobs.remove(at: queued).job.streaming?.compression.cancel()
            queueChanged()
        }
        exchange.body = nil
        releaseTicket(exchange)
        if exchange.headersComplete, !exchange.loggedDone {
            exchange.loggedDone = true
            RequestLog.write(
                logger, exchange: exchange, status: 499, bytesOut: 0,
                duration: ContinuousClock.now - exchange.startedAt, note: "connection closed before the response")
        }
    }

    func responseWritten(_ exchange: Exchange, status: Int, errorCode: ErrorCode?, bytesOut: Int, failure: String?) {
        releaseTicket(exchange)
        let duration = ContinuousClock.now - exchange.startedAt
        metrics.request(endpoint: Endpoint.label(for: exchange.path), status: status, duration: duration)
        if let errorCode { metrics.rejected(reason: errorCode.rawValue) }
        exchange.loggedDone = true
        RequestLog.write(logger, exchange: exchange, status: status, bytesOut: bytesOut, duration: duration, errorCode: errorCode, note: failure)
    }

    /// The ticket covers the work, not the flush of its answer.
    private func workDone(_ exchange: Exchange) {
        guard var ticket = exchange.ticket else { return }
        admission.workDone(&ticket)
        exchange.ticket = ticket
    }

    private func releaseTicket(_ exchange: Exchange) {
        guard let ticket = exchange.ticket else { return }
        exchange.ticket = nil
        admission.release(ticket)
        metrics.setInflight(admission.admitted)
    }

    /// Pumps yield to waiting jobs; the gauge shows them.
    private func queueChanged() {
        jobsWaiting.count.store(readyJobs.count, ordering: .relaxed)
        metrics.setQueued(readyJobs.count)
    }

    var inflight: Int { admission.admitted }
    var queued: Int { readyJobs.count }
    var workers: Int { configuration.workers }
}
