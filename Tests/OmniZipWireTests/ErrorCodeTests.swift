import Foundation
import OmniZipWire
import Testing

/// `ErrorCode` and openapi.yaml list the same codes: none sent undocumented, none documented
/// that nothing sends. The spec sits at the package root, outside every target, so it is found
/// from this file's path (a resource must live inside the target; a copy could drift).
@Suite("Error codes match openapi.yaml")
struct ErrorCodeTests {
    static let openAPI = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("openapi.yaml")

    /// The backquoted codes in the description of `ErrorBody.error.code`: from the `code:` line
    /// under `ErrorBody:` up to the next property (`message:`).
    static func documentedCodes() throws -> Set<String> {
        let lines = try String(contentsOf: openAPI, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let body = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "ErrorBody:" })
        let code = try #require(lines[body...].firstIndex { $0.trimmingCharacters(in: .whitespaces) == "code:" })
        let end = try #require(lines[code...].firstIndex { $0.trimmingCharacters(in: .whitespaces) == "message:" })
        let text = lines[code..<end].joined(separator: "\n")
        let pattern = try Regex("`([a-z_]+)`")
        return Set(text.matches(of: pattern).compactMap { $0.output[1].substring.map(String.init) })
    }

    @Test func everyCodeIsDocumented() throws {
        let documented = try Self.documentedCodes()
        let undocumented = ErrorCode.allCases.map(\.rawValue).filter { !documented.contains($0) }
        #expect(undocumented.isEmpty, "in ErrorCode but not in openapi.yaml: \(undocumented)")
    }

    @Test func everyDocumentedCodeIsACase() throws {
        let documented = try Self.documentedCodes()
        #expect(documented.count >= 20, "the description was not found or not parsed: \(documented)")
        let unknown = documented.filter { ErrorCode(rawValue: $0) == nil }.sorted()
        #expect(unknown.isEmpty, "in openapi.yaml but not in ErrorCode: \(unknown)")
    }
}
