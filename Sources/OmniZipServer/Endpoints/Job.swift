import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// A unit of pool work: everything it needs travels with it, all Sendable. The body buffer is
/// the loop's no longer: nothing on the loop touches it until the outcome comes back.
struct Job: Sendable {
    enum Kind: Sendable {
        case compress(includeEmbeddings: Bool, json: Bool)
        case score(json: Bool, safetensorsAnswer: Bool)
        case budget
        case explain(detail: ExplainDetail)
    }

    /// What the loop already decided from a compress or explain body's prefix: the job
    /// finishes that compression, or answers that refusal, and decodes nothing again.
    enum Prefix: Sendable {
        case streamed(StreamedRequest)
        case refused(WireError)
    }

    let kind: Kind
    let body: ByteBuffer
    let prefix: Prefix?
    let overrides: [String: String]
    let requestID: String
    /// When the body was complete (queue_ms runs from here to the job's start).
    let receivedAt: ContinuousClock.Instant

    func run(_ compressor: Compressor) -> JobOutcome {
        switch kind {
        case .compress, .explain: body.populate(on: compressor.pool)
        case .score, .budget: break // they read the small tensors alone
        }
        return switch kind {
        case let .compress(includeEmbeddings, json):
            CompressEndpoint.run(self, includeEmbeddings: includeEmbeddings, json: json, compressor: compressor)
        case let .score(json, safetensorsAnswer):
            ScoreEndpoint.run(body: body, json: json, safetensorsAnswer: safetensorsAnswer, overrides: overrides, requestID: requestID)!
        case .budget:
            BudgetEndpoint.run(body: body, overrides: overrides, requestID: requestID)!
        case let .explain(detail):
            ExplainEndpoint.run(self, detail: detail, compressor: compressor)
        }
    }

    /// The client went away while the job was queued: stop the compression running on its body.
    func cancel() {
        if case let .streamed(streamed) = prefix { streamed.compression.cancel() }
    }

    /// A score or budget job answered where it is (the loop thread), or nil when it declares more
    /// than `tokenLimit` audio and video tokens or is not such a job: then it goes to a worker.
    func runInline(tokenLimit: Int) -> JobOutcome? {
        switch kind {
        case let .score(json, safetensorsAnswer):
            ScoreEndpoint.run(
                body: body, json: json, safetensorsAnswer: safetensorsAnswer, overrides: overrides, requestID: requestID,
                tokenLimit: tokenLimit)
        case .budget:
            BudgetEndpoint.run(body: body, overrides: overrides, requestID: requestID, tokenLimit: tokenLimit)
        case .compress, .explain:
            nil
        }
    }
}
