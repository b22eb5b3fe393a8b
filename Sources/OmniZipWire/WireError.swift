import OmniZipCore

/// A request the service refuses, with a stable machine-readable code and a message that names
/// the offending tensor or parameter. Every one of these is the client's fault (HTTP 400).
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func malformed(_ error: SafetensorsError) -> WireError { WireError("invalid_safetensors", error.message) }

    /// A core rejection, as the client sees it.
    public static func core(_ error: OmniZipError) -> WireError {
        switch error {
        case .invalidParameter: WireError("invalid_parameter", error.description)
        case .invalidInput: WireError("invalid_input", error.description)
        }
    }
}
