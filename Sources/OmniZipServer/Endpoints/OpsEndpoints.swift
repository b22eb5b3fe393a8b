import OmniZipCore
import OmniZipWire

/// The GET endpoints: probes, metrics and info. Cheap, answered on the loop thread.
enum OpsEndpoints {
    static func respond(_ endpoint: Endpoint, exchange: Exchange, server: ServerLoop) -> HTTPResponse {
        switch endpoint {
        case .livez, .healthz:
            return .json(#"{"status":"ok"}"# + "\n")
        case .readyz:
            if server.draining {
                return ErrorBody.response(503, .draining, "the server is shutting down", requestID: exchange.requestID)
            }
            return .json(#"{"status":"ready"}"# + "\n")
        case .metrics:
            return HTTPResponse(
                status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: .bytes(server.metrics.exposition()))
        case .info:
            return .json(info(server.configuration, inflight: server.inflight, queued: server.queued))
        case .compress, .score, .budget, .explain:
            return ErrorBody.response(500, .internalError, "not an ops endpoint", requestID: exchange.requestID)
        }
    }

    /// `workers` and `limits` keep the names clients and the deploy smoke tests read; `settings`
    /// is every option the table marks as reported, by option name.
    static func info(_ c: ServerConfiguration, inflight: Int, queued: Int) -> String {
        let limits = JSONText.object([
            ("max_inflight", String(c.maxInflight)), ("max_body_bytes", String(c.maxBodyBytes)),
            ("max_buffered_bytes", String(c.maxBufferedBytes)), ("max_connections", String(c.maxConnections)),
            ("min_upload_rate", String(c.minUploadRate)),
            ("request_timeout_seconds", JSONText.number(c.requestTimeout)), ("max_tokens_per_frame", String(RequestOptions.maxTokensPerFrame)),
        ])
        return JSONText.object([
            ("version", JSONText.string(c.version)), ("kernels", JSONText.string(KernelPath.current)),
            ("workers", String(c.workers)), ("inflight", String(inflight)), ("queued", String(queued)), ("defaults", RequestOptions.defaultsJSON),
            ("models", RequestOptions.modelsJSON), ("limits", limits),
            ("parameters", "[" + RequestOptions.overrideNames.sorted().map(JSONText.string).joined(separator: ",") + "]"),
            ("settings", ServerOption.settingsJSON(c)),
            // Descriptor bodies cross only a Unix socket.
            ("features", "[" + (c.unixSocket == nil ? [] : [DescriptorBody.feature]).map(JSONText.string).joined(separator: ",") + "]"),
        ]) + "\n"
    }
}
