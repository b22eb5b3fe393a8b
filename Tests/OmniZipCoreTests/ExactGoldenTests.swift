import Testing
import OmniZipWire

/// `../shared/golden-exact`: the golden requests sent with `video_budget=exact`. The keep mask
/// and per-frame counts are the exact expectation's; everything else is the reference's.
@Suite("Golden parity under the exact budget")
struct ExactGoldenTests {
    @Test("committed exact expectations are present for the committed requests")
    func fixturesPresent() {
        #expect(GoldenCases.exactNames.count >= 20)
        if GoldenCases.sharedAvailable { #expect(GoldenCases.exactNames.count == GoldenCases.names.count) }
    }

    @Test("exact parity", arguments: GoldenCases.exactNames)
    func parity(name: String) throws {
        let response = try compressGolden(GoldenCases.request(name), overrides: ["video_budget": "exact"])
        let expected = try TensorBundle(GoldenCases.expected(name))
        let exact = try TensorBundle(GoldenCases.expectedExact(name))
        #expect(try parityMismatches(response: response, expected: expected, exact: exact) == [], "case \(name)")
    }

    @Test("video_budget=reference is the default, bit for bit", arguments: GoldenCases.names.prefix(8))
    func explicitReference(name: String) throws {
        let implicit = try compressGolden(GoldenCases.request(name))
        let explicit = try compressGolden(GoldenCases.request(name), overrides: ["video_budget": "reference"])
        #expect(implicit.bytes == explicit.bytes)
    }
}
