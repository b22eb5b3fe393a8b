import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// What a worker hands back to the loop.
struct JobOutcome: Sendable {
    var response: HTTPResponse
    /// Token counts of a successful compression (for the tokens metric).
    var counts: ResponseEncoder.Counts?
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
    let receivedAt: UInt64

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
        let start = monotonicNanos()
        let queueMs = milliseconds(from: job.receivedAt, to: start)
        do throws(WireError) {
            // The body buffer outlives `decoded` and the compression: `job` holds it.
            let decoded = try RequestDecoder.decode(job.body.bytes, overrides: job.overrides, requireEmbeddings: true)
            let decodedAt = monotonicNanos()
            let result = try decoded.compress(with: compressor)
            let compressedAt = monotonicNanos()
            if json {
                return jsonAnswer(decoded, result, includeEmbeddings: includeEmbeddings, start: start, queueMs: queueMs,
                                  decodedAt: decodedAt, compressedAt: compressedAt)
            }
            let writer = ResponseEncoder.compress(decoded, result, includeEmbeddings: includeEmbeddings)
            let encodedAt = monotonicNanos()

            let phases: [(name: String, ms: Double)] = [
                ("queue", queueMs), ("decode", milliseconds(from: start, to: decodedAt)),
                ("compress", milliseconds(from: decodedAt, to: compressedAt)), ("encode", milliseconds(from: compressedAt, to: encodedAt)),
            ]
            // Timings go in Server-Timing and the metrics, never in the body: the same request
            // gives the same response bytes, whatever the load or worker count.
            let core = result.timings
            let corePhases = [("core_plan", core.plan), ("core_audio", core.audio), ("core_video", core.video), ("core_merge", core.merge)]
                .map { (name: $0.0, ms: $0.1 * 1000) }

            let size = writer.serializedByteCount
            guard let out = ByteBuffer(capacity: size), let base = out.base else {
                return JobOutcome(response: ErrorBody.response(503, "insufficient_memory", "cannot allocate \(size) bytes for the response",
                                                               requestID: job.requestID, headers: [("Retry-After", "1")]))
            }
            out.setCount(writer.serialize(into: UnsafeMutableRawBufferPointer(start: base, count: size)))
            var response = HTTPResponse(status: 200, contentType: "application/octet-stream", body: .buffer(out))
            response.headers = [("Server-Timing", (phases + corePhases).map { "\($0.name);dur=\(formatMilliseconds($0.ms))" }.joined(separator: ", "))]
            return JobOutcome(response: response, counts: ResponseEncoder.counts(decoded, result.plan, merged: result.mergedAnchors.count),
                              phases: phases)
        } catch {
            return JobOutcome(response: ErrorBody.response(400, error.code, error.message, requestID: job.requestID),
                              phases: [("queue", queueMs)])
        }
    }

    /// `Accept: application/json`: the same result as JSON. Timings go in Server-Timing only,
    /// as for safetensors, so the same request gives the same bytes.
    private static func jsonAnswer(_ decoded: DecodedRequest, _ result: CompressionResult, includeEmbeddings: Bool, start: UInt64,
                                   queueMs: Double, decodedAt: UInt64, compressedAt: UInt64) -> JobOutcome {
        let body = CompressJSON.json(decoded, result, includeEmbeddings: includeEmbeddings)
        let phases: [(name: String, ms: Double)] = [
            ("queue", queueMs), ("decode", milliseconds(from: start, to: decodedAt)),
            ("compress", milliseconds(from: decodedAt, to: compressedAt)), ("encode", milliseconds(from: compressedAt, to: monotonicNanos())),
        ]
        let core = result.timings
        let corePhases = [("core_plan", core.plan), ("core_audio", core.audio), ("core_video", core.video), ("core_merge", core.merge)]
            .map { (name: $0.0, ms: $0.1 * 1000) }
        var response = HTTPResponse(status: 200, contentType: "application/json", body: .bytes(body))
        response.headers = [("Server-Timing", (phases + corePhases).map { "\($0.name);dur=\(formatMilliseconds($0.ms))" }.joined(separator: ", "))]
        return JobOutcome(response: response, counts: ResponseEncoder.counts(decoded, result.plan, merged: result.mergedAnchors.count),
                          phases: phases)
    }
}
