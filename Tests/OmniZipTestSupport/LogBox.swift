import OmniZipCore

/// Lines collected from another thread (a logger, a child process's output) for inspection.
public final class LogBox: Sendable {
    private let storage = Locked<[String]>([])

    public init() {}

    public func append(_ line: String) { storage.withLock { $0.append(line) } }
    public var lines: [String] { storage.withLock { $0 } }
}
