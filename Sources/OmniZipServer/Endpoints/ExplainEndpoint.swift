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
            compressed = try CompressedJob(job, compressor: compressor)
        } catch {
            return error.outcome
        }
        // The page's ranking values come from a traced run of the same compression (the first
        // may have run while the body arrived, untraced); it gives the same result, which the
        // page then draws with its trace. Counted in the render phase.
        let trace = CompressionTrace()
        var result = compressed.result, traced: CompressionTrace?
        if let input = try? compressed.decoded.compressionInput(), let again = try? compressor.compress(input, trace: trace) {
            result = again
            traced = trace
        }
        // No request id or time in the page: the same request gives the same bytes, as everywhere.
        let page = ExplainReport(request: compressed.decoded, result: result, trace: traced, detail: detail, source: "POST /v1/explain").html()
        let phases = compressed.phases(last: "render")
        var response = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: .bytes(Array(page.utf8)))
        response.headers = [CompressedJob.serverTiming(phases)]
        // No token counts and no render phase in the metrics: they describe compressions
        // served, and drawing is not one of their phases.
        return JobOutcome(response: response, phases: Array(phases.dropLast()))
    }
}
