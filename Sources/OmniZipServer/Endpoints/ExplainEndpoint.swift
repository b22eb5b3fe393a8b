import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// `POST /v1/explain`: the compress request, compressed the same way, answered as the explain
/// report (one self-contained HTML page). Always HTML whatever `Accept` says: the page is the
/// point of the endpoint, and errors stay JSON like everywhere else. On a worker thread.
enum ExplainEndpoint {
    static func run(_ job: Job, detail: ExplainDetail, compressor: Compressor) -> JobOutcome {
        let compressed: CompressedJob
        do {
            // Traced: the page draws the values this very compression ranked by.
            compressed = try CompressedJob(job, compressor: compressor, traced: true)
        } catch {
            return error.outcome
        }
        // No request id or time in the page: the same request gives the same bytes, as everywhere.
        let page = ExplainReport(
            request: compressed.decoded, result: compressed.result, trace: compressed.trace, detail: detail, source: "POST /v1/explain"
        ).html()
        let phases = compressed.phases(last: "render")
        var response = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: .bytes(Array(page.utf8)))
        response.headers = [CompressedJob.serverTiming(phases)]
        // No token counts and no render phase in the metrics: they describe compressions
        // served, and drawing is not one of their phases.
        return JobOutcome(response: response, phases: Array(phases.dropLast()))
    }
}
