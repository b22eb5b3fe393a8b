/// An error whose description is the whole story, for helpers that fail a test by throwing.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
