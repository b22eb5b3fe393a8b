import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// `POST /v1/explain`: the compress request, compressed the same way, answered as the explain
/// report (one self-contained HTML page). Always HTML whatever `Accept` says: the page is the
/// point of the endpoint, and errors stay JSON like everywhere else. On a worker thread.
enum ExplainEndpoint {
    static func run(_ job: Job, detail: ExplainDetail, compressor: Compressor) -> JobOutcome {
        let start = monotonicNanos()
        let queueMs = milliseconds(from: job.receivedAt, to: start)
        do throws(WireError) {
            let decoded = try RequestDecoder.decode(job.body.bytes, overrides: job.overrides, requireEmbeddings: true)
            let decodedAt = monotonicNanos()
            let result = try decoded.compress(with: compressor)
            let compressedAt = monotonicNanos()
            // No request id or time in the page: the same request gives the same bytes, as everywhere.
            let page = ExplainReport(request: decoded, result: result, detail: detail, source: "POST /v1/explain").html()
            let phases: [(name: String, ms: Double)] = [
                ("queue", queueMs), ("decode", milliseconds(from: start, to: decodedAt)),
                ("compress", milliseconds(from: decodedAt, to: compressedAt)),
            ]
            let render = ("render", milliseconds(from: compressedAt, to: monotonicNanos()))
            var response = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: .bytes(Array(page.utf8)))
            response.headers = [("Server-Timing", (phases + [render]).map { "\($0.0);dur=\(formatMilliseconds($0.1))" }.joined(separator: ", "))]
            // No token counts and no render phase in the metrics: they describe compressions
            // served, and drawing is not one of their phases.
            return JobOutcome(response: response, phases: phases)
        } catch {
            return JobOutcome(response: ErrorBody.response(400, error.code, error.message, requestID: job.requestID),
                              phases: [("queue", queueMs)])
        }
    }
}
