import OmniZipExplain
import OmniZipWire

/// Everything decided from the request line and headers alone, before any body byte is read:
/// routing, limits, media types, query parameters and admission.
enum Router {
    struct Limits {
        var maxBodyBytes: Int
        var draining: Bool
    }

    /// Sets `exchange.endpoint`, or rejects the exchange. Admission is the caller's last step.
    static func check(_ exchange: Exchange, limits: Limits) {
        guard splitTarget(exchange) else { return }
        let contentLength = exchange.contentLength
        if let length = contentLength, length > limits.maxBodyBytes {
            exchange.rejectError(
                413, .bodyTooLarge,
                "Content-Length \(exchange.declaredLength ?? UInt64(length)) exceeds the limit of \(limits.maxBodyBytes) bytes",
                close: true)
            return
        }
        // RFC 9110: 501 for a method no resource here implements, 405 for one this path does not take.
        guard Endpoint.implementedMethods.contains(exchange.method) else {
            exchange.rejectError(501, .notImplemented, "method \(exchange.method) is not implemented; this server takes GET, HEAD and POST")
            return
        }
        guard let endpoint = Endpoint(rawValue: exchange.path) else {
            exchange.rejectError(404, .notFound, "no endpoint at '\(exchange.path)'")
            return
        }
        guard endpoint.allows(exchange.method) else {
            let allowed = endpoint.allowedMethods.joined(separator: ", ")
            exchange.rejectError(
                405, .methodNotAllowed, "\(exchange.path) accepts \(allowed), not \(exchange.method)",
                headers: [("Allow", allowed)])
            return
        }
        exchange.endpoint = endpoint
        guard endpoint.isWork else {
            exchange.discardBody = true
            refuseDescriptors(exchange)
            return
        }
        if limits.draining {
            exchange.rejectError(
                503, .draining, "the server is shutting down; retry on another instance",
                headers: [("Retry-After", "1")], close: true)
            return
        }
        if contentLength == nil, !exchange.chunked {
            exchange.rejectError(
                411, .lengthRequired,
                "\(exchange.path) needs a request body with a Content-Length (or chunked), and this request has none: "
                    + "POST a safetensors request (curl --data-binary @request.safetensors)", close: true)
            return
        }
        if let failure = mediaTypeFailure(exchange, endpoint) {
            exchange.rejectError(415, .unsupportedMediaType, failure)
            return
        }
        switch DescriptorBody.declaredLength(exchange, maxBodyBytes: limits.maxBodyBytes) {
        case let .failure(refusal):
            exchange.rejectError(refusal.status, refusal.code, refusal.message)
            return
        case let .success(length):
            exchange.descriptorLength = length
        }
        do {
            try checkQuery(exchange, endpoint)
        } catch {
            exchange.rejectError(400, error.code, error.message)
        }
    }

    /// Probes and info take no descriptor: one sent with them fails the request.
    private static func refuseDescriptors(_ exchange: Exchange) {
        guard !exchange.descriptors.isEmpty else { return }
        exchange.rejectError(400, .invalidDescriptor, "a file descriptor came with a request for \(exchange.path), which takes none; it was closed")
    }

    /// Path and query from the request target; false when it was refused.
    private static func splitTarget(_ exchange: Exchange) -> Bool {
        guard exchange.url.count <= HTTPParserBridge.maxURLBytes else {
            exchange.rejectError(400, .malformedHTTP, "the request target is longer than \(HTTPParserBridge.maxURLBytes) bytes")
            return false
        }
        guard let (path, query) = HTTPParserBridge.splitTarget(exchange.url) else {
            exchange.rejectError(400, .malformedHTTP, "the request target is not a valid URL")
            return false
        }
        exchange.path = path
        // Only compress and score take parameters; the probes ignore their query.
        guard Endpoint(rawValue: path)?.isWork == true else { return true }
        do {
            exchange.query = try QueryString.parse(query)
            return true
        } catch {
            exchange.rejectError(400, error.code, error.message)
            return false
        }
    }

    static let safetensorsTypes: Set<String> = ["application/octet-stream", "application/x-safetensors"]

    /// What `curl --data-binary` sends unless told otherwise. Safetensors endpoints treat it as
    /// no Content-Type, so a plain curl works while debugging; a body that really is a form
    /// fails safetensors parsing with a 400 that says so.
    static let curlDefaultType = "application/x-www-form-urlencoded"

    private static func mediaTypeFailure(_ exchange: Exchange, _ endpoint: Endpoint) -> String? {
        guard let header = exchange.contentType else { return nil }
        let type = mediaType(header)
        if type == curlDefaultType, endpoint != .budget { return nil }
        let accepted: Set<String> =
            switch endpoint {
            case .score: safetensorsTypes.union(["application/json", DescriptorBody.mediaType])
            case .budget: ["application/json"]
            default: safetensorsTypes.union([DescriptorBody.mediaType])
            }
        if accepted.contains(type) { return nil }
        let json = type == "application/json" ? "; JSON bodies go to /v1/score (scores and sizes) or /v1/budget (sizes alone)" : ""
        return "Content-Type '\(header)' is not accepted by \(endpoint.rawValue); send \(accepted.sorted().joined(separator: " or "))\(json)"
    }

    /// Parameter names are checked here so a typo costs no body transfer; values are checked
    /// by the decoder, which also merges them with `__metadata__`.
    private static func checkQuery(_ exchange: Exchange, _ endpoint: Endpoint) throws(QueryString.Failure) {
        var names = exchange.query.keys.filter { !RequestOptions.overrideNames.contains($0) }
        // The server's own query parameters, beside the pipeline's: compress's `return`, explain's `detail`.
        let own: [String: [String]] =
            endpoint == .compress
            ? ["return": ["indices", "embeds"]]
            : endpoint == .explain ? ["detail": ExplainDetail.allCases.map(\.rawValue)] : [:]
        for (name, allowed) in own.sorted(by: { $0.key < $1.key }) {
            guard let value = exchange.query[name] else { continue }
            names.removeAll { $0 == name }
            guard allowed.contains(value) else {
                let choices = allowed.map { "'\($0)'" }.joined(separator: ", ")
                throw QueryString.Failure(
                    code: .invalidParameter, message: "parameter '\(name)' must be one of \(choices) (default '\(allowed[0])'), got '\(value)'")
            }
        }
        if let unknown = names.sorted().first {
            let expected = RequestOptions.overrideNames.union(own.keys).sorted()
            throw QueryString.Failure(
                code: .unknownParameter, message: "unknown parameter '\(unknown)'; expected one of \(expected.joined(separator: ", "))")
        }
    }

    /// The parameters handed to the decoder: the query without the server's own `return` and `detail`.
    static func overrides(_ exchange: Exchange) -> [String: String] {
        exchange.query.filter { $0.key != "return" && $0.key != "detail" }
    }

    /// The two answer formats the compression endpoints speak.
    enum AnswerFormat { case json, safetensors }

    /// The first of JSON or safetensors that `Accept` names, in the order listed (q-values
    /// are not weighed); nil when it names neither. Each endpoint picks its own default.
    static func namedAnswer(_ accept: String?) -> AnswerFormat? {
        guard let accept else { return nil }
        for entry in accept.split(separator: ",") {
            let type = mediaType(String(entry))
            if type == "application/json" { return .json }
            if safetensorsTypes.contains(type) { return .safetensors }
        }
        return nil
    }

    /// Score answers: the first of JSON or safetensors named by Accept wins; JSON by default.
    static func wantsSafetensors(_ accept: String?) -> Bool { namedAnswer(accept) == .safetensors }

    /// Compress answers: the same rule, but safetensors by default (what clients send for).
    static func wantsJSON(_ accept: String?) -> Bool { namedAnswer(accept) == .json }
}
