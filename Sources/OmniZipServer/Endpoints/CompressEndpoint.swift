import OmniZipCore
import OmniZipExplain
import OmniZipWire

/// `POST /v1/compress`: decode in place, compress, encode; on a worker thread.
enum CompressEndpoint {
    static func run(_ job: Job, includeEmbeddings: Bool, json: Bool, compressor: Compressor) -> JobOutcome {
        let compressed: CompressedJob
        do {
            compressed = try CompressedJob(job, compressor: compressor)
        } catch {
            return error.outcome
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
                return JobOutcome(
                    response: ErrorBody.response(
                        503, .insufficientMemory, "cannot allocate \(size) bytes for the response",
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
        return JobOutcome(
            response: response, counts: TokenCounts(compressed.decoded, result.plan, merged: result.mergedAnchors.count),
            phases: phases)
    }
}
