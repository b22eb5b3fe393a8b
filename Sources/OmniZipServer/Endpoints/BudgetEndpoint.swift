import OmniZipCore
import OmniZipWire

/// `POST /v1/budget`: the exact-budget totals from sizes alone, in JSON. Cheap (a pass over the
/// run lengths), so small bodies are answered on the loop thread like small score requests.
enum BudgetEndpoint {
    static func run(body: ByteBuffer, overrides: [String: String], requestID: String) -> JobOutcome {
        do throws(WireError) {
            let request = try BudgetCodec.decodeJSON(body.bytes, overrides: overrides)
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
