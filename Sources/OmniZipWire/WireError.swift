/// A request the service refuses, with a stable machine-readable code and a message that names
/// the offending tensor or parameter. Every one of these is the client's fault (HTTP 400).
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func malformed(_ error: SafetensorsError) -> WireError { WireError(.invalidSafetensors, error.message) }

    /// A whole body that did not parse: named for what it looks like when it is a usual mistake.
    static func notSafetensors(_ error: SafetensorsError, body: UnsafeRawBufferPointer) -> WireError {
        WireError(.invalidSafetensors, NotSafetensors.hint(body) ?? error.message)
    }
}
