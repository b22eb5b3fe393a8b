import OmniZipCore
import OmniZipWire

/// A compress or explain job's request, decoded in place and compressed, with when each step
/// ended: what /v1/compress and /v1/explain share before they answer in their own format.
struct CompressedJob {
    typealias Phase = (name: String, ms: Double)

    let decoded: DecodedRequest
    let result: CompressionResult
    /// What the compression ranked by, when the job was built `traced`.
    let trace: CompressionTrace?
    private let start: ContinuousClock.Instant, decodedAt: ContinuousClock.Instant, compressedAt: ContinuousClock.Instant
    private let queueMs: Double

    /// A request that did not decode or compress: the 400 to answer (503 when memory ran out),
    /// with its queue time.
    struct Refusal: Error {
        let outcome: JobOutcome
    }

    /// The body buffer outlives `decoded` and the compression: `job` holds it. `traced`: record
    /// a `CompressionTrace` (a streamed explain request's compression already does).
    init(_ job: Job, compressor: Compressor, traced: Bool = false) throws(Refusal) {
        start = .now
        let queueMs = (start - job.receivedAt).milliseconds
        self.queueMs = queueMs
        do throws(WireError) {
            switch job.prefix {
            case let .streamed(streamed):
                decoded = streamed.decoded
                trace = streamed.trace
                decodedAt = .now
                do throws(OmniZipError) {
                    result = try streamed.compression.finish()
                } catch {
                    throw WireError.core(error)
                }
            case let .refused(error):
                throw error
            case nil:
                decoded = try RequestDecoder.decode(job.body.bytes, overrides: job.overrides, requireEmbeddings: true)
                decodedAt = .now
                trace = traced ? CompressionTrace() : nil
                result = try decoded.compress(with: compressor, trace: trace)
            }
            compressedAt = .now
        } catch {
            let response =
                error.code == .insufficientMemory
                ? ErrorBody.response(503, error.code, error.message, requestID: job.requestID, headers: [("Retry-After", "1")])
                : ErrorBody.response(400, error.code, error.message, requestID: job.requestID)
            throw Refusal(outcome: JobOutcome(response: response, phases: [("queue", queueMs)]))
        }
    }

    /// queue, decode, compress, then `last` up to now (encoding or drawing the answer).
    func phases(last: String) -> [Phase] {
        [
            ("queue", queueMs), ("decode", (decodedAt - start).milliseconds),
            ("compress", (compressedAt - decodedAt).milliseconds), (last, (ContinuousClock.now - compressedAt).milliseconds),
        ]
    }

    /// The core's own phases, for Server-Timing.
    var corePhases: [Phase] {
        let t = result.timings
        return [("core_plan", t.plan), ("core_audio", t.audio), ("core_video", t.video), ("core_merge", t.merge)].map { ($0.0, $0.1 * 1000) }
    }

    /// Timings travel in this header and the metrics, never in a body: the same request gives
    /// the same response bytes, whatever the load or worker count.
    static func serverTiming(_ phases: [Phase]) -> (String, String) {
        ("Server-Timing", phases.map { "\($0.name);dur=\(formatMilliseconds($0.ms))" }.joined(separator: ", "))
    }
}
