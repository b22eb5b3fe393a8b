import Testing
import OmniZipCore
import OmniZipTestSupport
@testable import OmniZipWire

/// Half-precision requests are widened exactly: an F16 (or BF16) request must behave exactly
/// like the F32 request holding the widened values.
@Suite("Element types")
struct DTypeEquivalenceTests {
    /// Rewrites a golden request with its embeddings narrowed to `dtype` (`narrowed`) and the
    /// same values widened back to F32 (`widened`).
    func variants(_ name: String, dtype: SafetensorsDType) throws -> (narrowed: [UInt8], widened: [UInt8]) {
        let request = try TensorBundle(Golden.request(name))
        let shape = try request.tensor("inputs_embeds").shape
        let values = try request.floats("inputs_embeds")
        let halves: [UInt16] = dtype == .f16 ? values.map { Float16($0).bitPattern } : values.map(ElementConversion.bfloat16Bits)
        let widened: [Float] = dtype == .f16 ? halves.map { Float(Float16(bitPattern: $0)) } : halves.map { Float(bitPattern: UInt32($0) << 16) }
        return (
            try request.rewritten(replace: ["inputs_embeds": (dtype, shape, halves.withUnsafeBytes { Array($0) })]),
            try request.rewritten(replace: ["inputs_embeds": (.f32, shape, widened.withUnsafeBytes { Array($0) })])
        )
    }

    @Test("F16 requests equal their exact F32 widening", arguments: ["public-024-s4-p64-d64", "public-031-s6-p9-d24"])
    func float16(name: String) throws {
        let (half, full) = try variants(name, dtype: .f16)
        let a = try compressGolden(half), b = try compressGolden(full)
        #expect(try a.bools("keep_mask") == b.bools("keep_mask"))
        #expect(try a.ints("merged_index") == b.ints("merged_index"))
        #expect(try a.tensor("merged_embeds").dtype == .f16)
        let narrowedExpectation = try b.floats("merged_embeds").map { Float(Float16($0)) }
        #expect(try a.floats("merged_embeds") == narrowedExpectation)
    }

    @Test("BF16 requests on the float32 path equal their exact F32 widening", arguments: ["public-024-s4-p64-d64"])
    func bfloat16(name: String) throws {
        let (half, full) = try variants(name, dtype: .bf16)
        let a = try compressGolden(half, allowBF16: false), b = try compressGolden(full)
        #expect(try a.bools("keep_mask") == b.bools("keep_mask"))
        let narrowedExpectation = try b.floats("merged_embeds").map { Float(bitPattern: UInt32(ElementConversion.bfloat16Bits($0)) << 16) }
        #expect(try a.floats("merged_embeds") == narrowedExpectation)
        // The BF16 dot-product path differs only in summation order: same masks here.
        let fast = try compressGolden(half, allowBF16: true)
        #expect(try fast.bools("keep_mask") == a.bools("keep_mask"))
    }
}
