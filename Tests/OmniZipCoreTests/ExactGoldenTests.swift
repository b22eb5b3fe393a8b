import Testing
import OmniZipTestSupport
import OmniZipWire

/// `golden-exact`: the golden requests sent with `video_budget=exact`. The keep mask and
/// per-frame counts are the exact expectation's; everything else is the reference's.
@Suite("Golden parity under the exact budget")
struct ExactGoldenTests {
    @Test("committed exact expectations are present for the committed requests")
    func fixturesPresent() {
        #expect(Golden.exactCases.count >= 20)
    }

    @Test("shared/ has an exact expectation for every request", .requires(SharedData.goldenPrerequisite))
    func sharedExactComplete() {
        #expect(Golden.exactCases == Golden.cases)
    }

    @Test("exact parity", arguments: Golden.exactCases)
    func parity(name: String) throws {
        let response = try compressGolden(Golden.request(name), overrides: ["video_budget": "exact"])
        let expected = try TensorBundle(Golden.expected(name))
        let exact = try TensorBundle(Golden.expectedExact(name))
        #expect(try GoldenParity.mismatches(response: response, expected: expected, exact: exact) == [], "case \(name)")
    }

    @Test("video_budget=reference is the default, bit for bit", arguments: Golden.cases.prefix(8))
    func explicitReference(name: String) throws {
        let implicit = try compressGolden(Golden.request(name))
        let explicit = try compressGolden(Golden.request(name), overrides: ["video_budget": "reference"])
        #expect(implicit.bytes == explicit.bytes)
    }
}
