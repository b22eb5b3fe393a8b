/// The server could not start (bind, listen, loop set-up), with a message saying why.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
