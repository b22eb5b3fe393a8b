import OmniZipCore
import OmniZipWire

/// `POST /v1/budget`: the exact-budget totals from sizes alone, in JSON. Cheap (a pass over the
/// run lengths), so small bodies are answered on the loop thread like small score requests.
enum BudgetEndpoint {
    /// The totals; nil when `tokenLimit` is given and the request declares more tokens than that
    /// (the per-frame reconciliation grows with them: see ScoreEndpoint).
    static func run(body: ByteBuffer, overrides: [String: String], requestID: String, tokenLimit: Int? = nil) -> JobOutcome? {
        do throws(WireError) {
            let request = try BudgetCodec.decodeJSON(body.bytes, overrides: overrides)
            if let tokenLimit, request.layout.audioTokenCount + request.layout.videoTokenCount > tokenLimit { return nil }
            let budget = BudgetCodec.budget(request)
            return JobOutcome(
                response: HTTPResponse(
                    status: 200, contentType: "application/json",
                    body: .bytes(BudgetCodec.json(request, budget))))
        } catch {
            return JobOutcome(response: ErrorBody.response(400, error.code, error.message, requestID: requestID))
        }
    }
}
