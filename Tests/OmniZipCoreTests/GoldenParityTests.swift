import Testing
import OmniZipCore
import OmniZipWire

/// Every parity vector passes: the committed small cases always, the full set when
/// `../shared/golden` exists.
@Suite("Golden parity")
struct GoldenParityTests {
    @Test("committed fixtures are present")
    func fixturesPresent() {
        #expect(GoldenCases.names.count >= 20)
    }

    @Test("parity with the reference", arguments: GoldenCases.names)
    func parity(name: String) throws {
        let response = try compressGolden(GoldenCases.request(name))
        let expected = try TensorBundle(GoldenCases.expected(name))
        #expect(try parityMismatches(response: response, expected: expected) == [], "case \(name)")
    }

    @Test("the float32 cross-modal path also passes the BF16 cases",
          arguments: GoldenCases.names.filter { $0.contains("bf16") })
    func bf16CasesOnFloat32Path(name: String) throws {
        let response = try compressGolden(GoldenCases.request(name), allowBF16: false)
        let expected = try TensorBundle(GoldenCases.expected(name))
        #expect(try parityMismatches(response: response, expected: expected) == [])
    }

    @Test("kept counts in the metadata match the mask", arguments: GoldenCases.names.prefix(5))
    func keptCountMatchesMask(name: String) throws {
        let response = try compressGolden(GoldenCases.request(name))
        let kept = try response.bools("keep_mask").filter { $0 }.count
        #expect(response.file.metadata["kept"] == String(kept))
        #expect(try response.ints("kept_index").count == kept)
    }
}
