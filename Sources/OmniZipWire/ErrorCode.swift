/// Every `error.code` the server and the CLI report, as openapi.yaml documents them (a test
/// keeps the two lists equal). Clients branch on these strings, so a raw value never changes.
public enum ErrorCode: String, Sendable, CaseIterable {
    // 400: the request's content (safetensors or JSON), its parameters, or its HTTP framing.
    case invalidSafetensors = "invalid_safetensors"
    case missingTensor = "missing_tensor"
    case unexpectedTensor = "unexpected_tensor"
    case invalidDtype = "invalid_dtype"
    case invalidShape = "invalid_shape"
    case inconsistentShapes = "inconsistent_shapes"
    case invalidValue = "invalid_value"
    case invalidParameter = "invalid_parameter"
    case unknownParameter = "unknown_parameter"
    case invalidQuery = "invalid_query"
    case invalidInput = "invalid_input"
    case invalidJSON = "invalid_json"
    case missingField = "missing_field"
    case unexpectedField = "unexpected_field"
    case malformedHTTP = "malformed_http"
    /// A file descriptor body (Unix socket) that is missing, extra, unsealed or not a memfd.
    case invalidDescriptor = "invalid_descriptor"
    // The server's own refusals, each with its one status.
    case notFound = "not_found" // 404
    case methodNotAllowed = "method_not_allowed" // 405
    case requestTimeout = "request_timeout" // 408
    case lengthRequired = "length_required" // 411
    case bodyTooLarge = "body_too_large" // 413
    case unsupportedMediaType = "unsupported_media_type" // 415
    case tooManyRequests = "too_many_requests" // 429
    case internalError = "internal_error" // 500
    case notImplemented = "not_implemented" // 501
    case draining = "draining" // 503
    case insufficientMemory = "insufficient_memory" // 503
}
