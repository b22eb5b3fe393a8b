import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// What a worker hands back to the loop.
struct JobOutcome: Sendable {
    var response: HTTPResponse
    /// Token counts of a successful compression (for the tokens metric).
    var counts: TokenCounts?
    /// Server-side phases in milliseconds, for the phase histogram.
    var phases: [(name: String, ms: Double)] = []
}

/// A unit of pool work: everything it needs travels with it, all Sendable. The body buffer is
/// the loop's no longer: nothing on the loop touches it until the outcome comes back.
struct Job: Sendable {
    enum Kind: Sendable {
        case compress(includeEmbeddings: Bool, json: Bool)
        case score(json: Bool, safetensorsAnswer: Bool)
        case budget
        case explain(detail: ExplainDetail)
    }

    let kind: Kind
    let body: ByteBuffer
    let overrides: [String: String]
    let requestID: String
    /// When the body was complete (queue_ms runs from here to the job's start).
    let receivedAt: ContinuousClock.Instant

    func run(_ compressor: Compressor) -> JobOutcome {
        switch kind {
        case let .compress(includeEmbeddings, json):
            CompressEndpoint.run(self, includeEmbeddings: includeEmbeddings, json: json, compressor: compressor)
        case let .score(json, safetensorsAnswer):
            ScoreEndpoint.run(body: body, json: json, safetensorsAnswer: safetensorsAnswer, overrides: overrides, requestID: requestID)
        case .budget:
            BudgetEndpoint.run(body: body, overrides: overrides, requestID: requestID)
        case let .explain(detail):
            ExplainEndpoint.run(self, detail: detail, compressor: compressor)
        }
    }
}

/// `POST /v1/compress`: decode in place, compress, encode; on a worker thread.
enum CompressEndpoint {
    static func run(_ job: Job, includeEmbeddings: Bool, json: Bool, compressor: Compressor) -> JobOutcome {
        let start = ContinuousClock.now
        let queueMs = (start - job.receivedAt).milliseconds
        let compressed: CompressedJob
        do {
            compressed = try CompressedJob(job, compressor: compressor, queueMs: queueMs, start: start)
        } catch {
            return JobOutcome(response: ErrorBody.response(400, error.code, error.message, requestID: job.requestID),
                              phases: [("queue", queueMs)])
        }
        let body: HTTPResponse.Body
        let contentType: String
        if json {
            body = .bytes(CompressJSON.json(compressed.decoded, compressed.result, includeEmbeddings: includeEmbeddings))
            contentType = "application/json"
        } else {
            // Serialised straight into its own buffer: the response is never copied.
            let writer = ResponseEncoder.compress(compressed.decoded, compressed.result, includeEmbeddings: includeEmbeddings)
            let size = writer.serializedByteCount
            guard let out = ByteBuffer(capacity: size), let base = out.base else {
                return JobOutcome(response: ErrorBody.response(503, .insufficientMemory, "cannot allocate \(size) bytes for the response",
                                                               requestID: job.requestID, headers: [("Retry-After", "1")]))
            }
            out.setCount(writer.serialize(into: UnsafeMutableRawBufferPointer(start: base, count: size)))
            body = .buffer(out)
            contentType = "application/octet-stream"
        }
        let phases = compressed.phases(last: "encode")
        var response = HTTPResponse(status: 200, contentType: contentType, body: body)
        response.headers = [CompressedJob.serverTiming(phases + compressed.corePhases)]
        let result = compressed.result
        return JobOutcome(response: response, counts: TokenCounts(compressed.decoded, result.plan, merged: result.mergedAnchors.count),
                          phases: phases)
    }
}
