/// A bad `serve` option or `OMNIZIP_*` value, with a message naming it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
}
