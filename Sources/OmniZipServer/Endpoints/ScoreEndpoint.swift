import OmniZipCore
import OmniZipWire

/// `POST /v1/score`: the budget plan, which needs no embeddings.
///
/// Where it runs: the plan itself is cheap (a few passes and sorts over the per-token scores),
/// but decoding the body is linear in its size: Foundation's JSON decoder needs about a
/// millisecond for a 15 KB request (1,500 scores, a minute of audio) and several for 60 KB.
/// So bodies up to `ServerConfiguration.inlineScoreBytes` (16 KiB) are planned on the loop
/// thread, which skips two thread hops (~10k small score requests/s); anything bigger goes to
/// the pool like compress, so no score request can stall the loop for long.
enum ScoreEndpoint {
    /// The plan's answer; nil when `tokenLimit` is given and the request declares more audio and
    /// video tokens than that (its plan and answer grow with them, whatever the body's size:
    /// such a request belongs on a worker, not on the loop thread).
    static func run(
        body: ByteBuffer, json: Bool, safetensorsAnswer: Bool, overrides: [String: String],
        requestID: String, tokenLimit: Int? = nil
    ) -> JobOutcome? {
        do throws(WireError) {
            let decoded =
                json
                ? try ScoreCodec.decodeJSON(body.bytes, overrides: overrides)
                : try RequestDecoder.decode(body.bytes, overrides: overrides, requireEmbeddings: false)
            if let tokenLimit, decoded.chunks.audioTokenCount + decoded.chunks.videoTokenCount > tokenLimit { return nil }
            let plan = try decoded.budgetPlan()
            let response =
                safetensorsAnswer
                ? HTTPResponse(status: 200, contentType: "application/octet-stream", body: .bytes(ScoreCodec.tensors(decoded, plan).serialized()))
                : HTTPResponse(status: 200, contentType: "application/json", body: .bytes(ScoreCodec.json(decoded, plan)))
            return JobOutcome(response: response)
        } catch {
            return JobOutcome(response: ErrorBody.response(400, error.code, error.message, requestID: requestID))
        }
    }
}
