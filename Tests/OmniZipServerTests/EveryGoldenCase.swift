import OmniZipTestSupport
import Testing

/// Sends every golden case through a server, a few requests in flight at once, and expects
/// each one to come back with no problem.
enum EveryGoldenCase {
    /// `body` returns what is wrong with one case (empty: nothing). Failures name the case.
    static func expectNoProblems(
        _ cases: [String] = Golden.cases, width: Int = 3, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: @escaping @Sendable (String) async throws -> [String]
    ) async throws {
        let problems = try await withThrowingTaskGroup(of: (String, [String]).self) { group in
            var results: [String: [String]] = [:]
            var pending = cases[...]
            for _ in 0..<width {
                if let name = pending.popFirst() { group.addTask { (name, try await body(name)) } }
            }
            while let (name, found) = try await group.next() {
                results[name] = found
                if let next = pending.popFirst() { group.addTask { (next, try await body(next)) } }
            }
            return results
        }
        #expect(problems.count == cases.count, sourceLocation: sourceLocation)
        for (name, found) in problems.sorted(by: { $0.key < $1.key }) {
            #expect(found.isEmpty, "\(name): \(found)", sourceLocation: sourceLocation)
        }
    }
}
