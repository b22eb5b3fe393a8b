import Testing
import OmniZipCore
import OmniZipTestSupport
import OmniZipWire

/// Every parity vector passes: the committed small cases always, the full set from shared/.
@Suite("Golden parity")
struct GoldenParityTests {
    @Test("committed fixtures are present")
    func fixturesPresent() {
        #expect(Golden.cases.count >= 20)
    }

    @Test("the full set from shared/ is here", .requires(SharedData.goldenPrerequisite))
    func sharedSetPresent() {
        #expect(!Golden.sharedCases.isEmpty && Set(Golden.cases).isSuperset(of: Golden.sharedCases))
    }

    @Test("parity with the reference", arguments: Golden.cases)
    func parity(name: String) throws {
        let response = try compressGolden(Golden.request(name))
        let expected = try TensorBundle(Golden.expected(name))
        #expect(try GoldenParity.mismatches(response: response, expected: expected) == [], "case \(name)")
    }

    @Test(
        "the float32 cross-modal path also passes the BF16 cases",
        arguments: Golden.cases.filter { $0.contains("bf16") })
    func bf16CasesOnFloat32Path(name: String) throws {
        let response = try compressGolden(Golden.request(name), allowBF16: false)
        let expected = try TensorBundle(Golden.expected(name))
        #expect(try GoldenParity.mismatches(response: response, expected: expected) == [])
    }

    /// 1 KiB of similarity rows puts every golden frame (16 to 288 tokens) in bands of at most
    /// 16 rows: the frames larger than 2,048 tokens take this path, whose bits must not differ.
    @Test("parity when the DPC-kNN similarity is held in bands of rows", arguments: Golden.cases)
    func parityInBands(name: String) throws {
        let compressor = Compressor(workers: 2, similarityBytes: 1 << 10)
        let response = try compressGolden(Golden.request(name), compressor: compressor)
        let expected = try TensorBundle(Golden.expected(name))
        #expect(try GoldenParity.mismatches(response: response, expected: expected) == [], "case \(name)")
    }

    @Test("kept counts in the metadata match the mask", arguments: Golden.cases.prefix(5))
    func keptCountMatchesMask(name: String) throws {
        let response = try compressGolden(Golden.request(name))
        let kept = try response.bools("keep_mask").filter { $0 }.count
        #expect(response.metadata["kept"] == String(kept))
        #expect(try response.ints("kept_index").count == kept)
    }
}
