import Foundation

/// Something tests need from outside the package: the shared golden vectors, the built
/// `omnizip`, python3 with safetensors. `make test` provides each one.
///
/// Under CI (`CI` set) a missing prerequisite fails the tests that need it, with a message
/// naming it: a suite that quietly ran nothing must not pass there. Elsewhere those tests are
/// skipped, and Swift Testing prints the reason.
public struct Prerequisite: Sendable {
    public let name: String
    public let hint: String
    public let isMet: Bool

    public init(_ name: String, hint: String, isMet: Bool) {
        self.name = name
        self.hint = hint
        self.isMet = isMet
    }

    /// CI systems set `CI` to "true" (or "1"); "false", "0" and empty mean a local run.
    public static let isCI: Bool = {
        guard let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() else { return false }
        return !["", "0", "false", "no"].contains(value)
    }()

    public var message: String { "missing prerequisite: \(name); \(hint)" }

    /// True when met; false (skip) when missing locally; throws when missing under CI.
    func evaluate() throws -> Bool {
        if isMet { return true }
        if Self.isCI { throw TestFailure("\(message) (CI is set, so this fails instead of skipping)") }
        return false
    }
}

// A plain `swift build` builds this target too (it is not a test target), and the release
// build links the standard library statically, where the toolchain ships no Testing module.
// The trait is only ever used from test targets, which always have it.
#if canImport(Testing)
    import Testing

    extension Trait where Self == ConditionTrait {
        /// Runs the test or suite only with `prerequisite`; see `Prerequisite` for what happens without it.
        public static func requires(_ prerequisite: Prerequisite, sourceLocation: SourceLocation = #_sourceLocation) -> Self {
            .enabled(Comment(rawValue: prerequisite.message), sourceLocation: sourceLocation) { try prerequisite.evaluate() }
        }
    }
#endif
