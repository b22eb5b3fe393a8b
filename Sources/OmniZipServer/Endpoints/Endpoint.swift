import OmniZipExplain
import OmniZipWire

/// The paths the server answers.
enum Endpoint: String, CaseIterable, Sendable {
    case compress = "/v1/compress"
    case score = "/v1/score"
    case budget = "/v1/budget"
    case explain = "/v1/explain"
    case info = "/v1/info"
    case livez = "/livez"
    case healthz = "/healthz"
    case readyz = "/readyz"
    case metrics = "/metrics"

    var method: String {
        switch self {
        case .compress, .score, .budget, .explain: "POST"
        default: "GET"
        }
    }

    static let implementedMethods: Set<String> = ["GET", "HEAD", "POST"]

    /// HEAD works wherever GET does, as RFC 9110 requires (the answer has headers only).
    var allowedMethods: [String] { method == "GET" ? ["GET", "HEAD"] : [method] }

    func allows(_ requestMethod: String) -> Bool { allowedMethods.contains(requestMethod) }

    /// compress, score, budget and explain take a body: they are admitted, limited and may go to the pool.
    var isWork: Bool { self == .compress || self == .score || self == .budget || self == .explain }

    /// Cheap enough to answer small bodies on the loop thread (no compression runs).
    var isLight: Bool { self == .score || self == .budget }

    /// The `endpoint` label of the metrics (bounded: unknown paths share one value).
    static func label(for path: String) -> String {
        Endpoint(rawValue: path)?.rawValue ?? "unmatched"
    }
}
