import Logging
import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// One request's way through the loop: admitted from its headers, its body streamed into a
/// compression where it can be, handed to the scheduler when complete, its ticket released
/// exactly once (answered or abandoned).
extension ServerLoop: RequestHandler {
    var maxBodyBytes: Int { configuration.maxBodyBytes }

    /// From the headers alone: route, limits, media type, parameters, then admission; only
    /// then is the body's buffer allocated (once, sized from Content-Length).
    func headersComplete(_ exchange: Exchange) {
        assertOnLoopThread()
        Router.check(exchange, limits: .init(maxBodyBytes: configuration.maxBodyBytes, draining: draining))
        if exchange.response == nil, let endpoint = exchange.endpoint, endpoint.isWork {
            let capacity = exchange.descriptorLength ?? exchange.contentLength ?? min(64 << 10, configuration.maxBodyBytes)
            var admitted = admission.admit(reserving: capacity)
            if case .failure(.memory) = admitted, reclaimHopelessUploads(except: exchange) {
                admitted = admission.admit(reserving: capacity)
            }
            switch admitted {
            case let .failure(refusal):
                exchange.rejectError(429, .tooManyRequests, "\(refusal.message); retry after 1 s", headers: [("Retry-After", "1")])
                return
            case let .success(ticket):
                exchange.ticket = ticket
            }
            metrics.setInflight(admission.admitted)
            guard !SealedMemfd.attachBody(to: exchange) else { return }
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
    /// tensors are, then let it run what the new rows complete. The prefix is decoded once:
    /// a body that cannot stream waits for its last byte (the reason is logged), and a request
    /// refused from its prefix is answered by its job without decoding it again.
    func bodyProgress(_ exchange: Exchange) {
        guard let body = exchange.body, let base = body.base else { return }
        if case let .streamed(streamed) = exchange.prefix {
            if streamed.compression.received(body.count) { carryOut(scheduler.unitsArrived()) }
            return
        }
        guard let needed = exchange.prefixNeeded, body.count >= needed, let length = exchange.contentLength else { return }
        // All streams busy: try again on the next read (a slot may free up before the body ends).
        guard scheduler.streamSlotFree else { return }
        let whole = UnsafeRawBufferPointer(start: base, count: length)
        switch RequestPrefix.decode(whole, received: body.count, overrides: Router.overrides(exchange)) {
        case let .needMore(bytes):
            exchange.prefixNeeded = bytes
        case let .wholeBodyOnly(reason):
            exchange.prefixNeeded = nil
            logger.debug("body not streamed: \(reason)", metadata: ["request_id": .string(exchange.requestID)])
        case let .refused(error):
            exchange.prefixNeeded = nil
            exchange.prefix = .refused(error)
        case let .ready(decoded):
            exchange.prefixNeeded = nil
            // The explain page draws the values the compression ranked by: trace that one.
            let trace = exchange.endpoint == .explain ? CompressionTrace() : nil
            // The compression reads the rows where they land.
            body.pin()
            let compression: StreamingCompression
            do throws(WireError) {
                let input = try decoded.compressionInput()
                do throws(OmniZipError) {
                    compression = try StreamingCompression(input, compressor: compressor, bodyStart: base, keepAlive: body, trace: trace)
                } catch {
                    throw WireError.core(error)
                }
            } catch {
                exchange.prefix = .refused(error)
                return
            }
            exchange.prefix = .streamed(StreamedRequest(decoded: decoded, compression: compression, trace: trace))
            metrics.streamStarted()
            var starts = scheduler.streamStarted(compression)
            if compression.received(body.count) { starts += scheduler.unitsArrived() }
            carryOut(starts)
        }
    }

    /// Uploads whose declared rest cannot arrive before their deadline give their memory back
    /// to a body that needs it now (issue 21, D5): declared sizes alone cannot hold the budget.
    /// Judged on at least a second of each upload's body. True if any did.
    private func reclaimHopelessUploads(except exchange: Exchange) -> Bool {
        var reclaimed = false
        for connection in connections.values where connection.core !== exchange.owner {
            if connection.core.reclaimIfHopeless(minObserved: .seconds(1)) { reclaimed = true }
        }
        return reclaimed
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
                kind: kind, body: body, prefix: exchange.prefix, overrides: Router.overrides(exchange), requestID: exchange.requestID,
                receivedAt: exchange.receivedAt)
            exchange.prefix = nil
            if endpoint.isLight, body.count <= configuration.inlineScoreBytes,
                let outcome = job.runInline(tokenLimit: configuration.inlineScoreTokens)
            {
                exchange.body = nil
                workDone(exchange)
                exchange.respond(outcome.response)
            } else {
                carryOut(scheduler.submit(ObjectIdentifier(exchange), (job, exchange)))
            }
        default:
            exchange.respond(OpsEndpoints.respond(endpoint, exchange: exchange, server: self))
        }
    }

    /// The connection went away before this exchange's response was written.
    func abandon(_ exchange: Exchange) {
        switch scheduler.abandon(ObjectIdentifier(exchange)) {
        case .running:
            // The worker holds the body; it all goes when the job is back (jobFinished).
            return
        case let .queued(work):
            // A queued job holds the body (and a stream's scratch): dropped with the ticket, not
            // when a worker would have reached it.
            work.job.cancel()
            queueChanged()
        case .unknown:
            break
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
    func workDone(_ exchange: Exchange) {
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
}
