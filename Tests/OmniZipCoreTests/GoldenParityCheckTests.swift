import OmniZipTestSupport
import OmniZipWire
import Testing

/// The parity check itself, on hand-made files: what `golden/README.md` accepts passes and a
/// step past it fails, so every path's golden tests mean the same thing.
@Suite("The golden parity check")
struct GoldenParityCheckTests {
    static let expectedEmbeds: [Float] = [0, 1.5, -2.25, 1e-30]

    /// A one-token compress answer with one merged row, as wide as `bits` holds.
    static func bundle(
        embeds: SafetensorsDType = .f32, bits: [UInt8]? = nil, mask: [UInt8] = [1],
        ratios: [Double] = [0.5]
    ) throws -> TensorBundle {
        var writer = SafetensorsWriter()
        writer.add("keep_mask", dtype: .bool, shape: [mask.count], bytes: mask)
        writer.add("merged_index", dtype: .i64, shape: [1], elements: [Int64(0)])
        writer.add("video_chunk_ratio", dtype: .f64, shape: [ratios.count], elements: ratios)
        writer.add("audio_chunk_retention", dtype: .f64, shape: [0], bytes: [])
        let data = bits ?? expectedEmbeds.withUnsafeBytes { Array($0) }
        writer.add("merged_embeds", dtype: embeds, shape: [1, data.count / embeds.byteWidth], bytes: data)
        return try TensorBundle(writer.serialized())
    }

    static func bf16(_ halves: [UInt16]) throws -> TensorBundle {
        try bundle(embeds: .bf16, bits: halves.withUnsafeBytes { Array($0) })
    }

    func mismatches(_ response: TensorBundle) throws -> [String] {
        try GoldenParity.mismatches(response: response, expected: Self.bundle())
    }

    /// The expected values rounded to BF16: 0, 1.5 and -2.25 are exact; 1e-30 rounds to 0x0DA2.
    static let rounded: [UInt16] = [0x0000, 0x3FC0, 0xC010, 0x0DA2]

    @Test func bf16WithinOneUlpPasses() throws {
        #expect(try mismatches(Self.bf16(Self.rounded)) == [])
        #expect(try mismatches(Self.bf16([0x0000, 0x3FC1, 0xC00F, 0x0DA3])) == [])
        #expect(try mismatches(Self.bf16([0x0000, 0x3FC2, 0xC010, 0x0DA2])).count == 1)
    }

    @Test("-0 and +0 are the same BF16 value, and the smallest of either sign are neighbours")
    func bf16AcrossZero() throws {
        #expect(try mismatches(Self.bf16([0x8000, 0x3FC0, 0xC010, 0x0DA2])) == [])
        #expect(try mismatches(Self.bf16([0x8001, 0x3FC0, 0xC010, 0x0DA2])) == [])
        #expect(try mismatches(Self.bf16([0x8002, 0x3FC0, 0xC010, 0x0DA2])).count == 1)
    }

    @Test func float32Tolerance() throws {
        func f32(_ values: [Float]) throws -> TensorBundle { try Self.bundle(bits: values.withUnsafeBytes { Array($0) }) }
        #expect(try mismatches(f32([0.5e-5, 1.5 + 1.4e-5, -2.25, 1e-30])) == [])
        #expect(try mismatches(f32([2e-5, 1.5, -2.25, 1e-30])).count == 1)
        #expect(try mismatches(f32([.nan, 1.5, -2.25, 1e-30])).count == 1)
    }

    @Test func maskRatiosAndShapeMustBeIdentical() throws {
        #expect(try mismatches(Self.bundle(mask: [0])).count == 1)
        #expect(try mismatches(Self.bundle(mask: [1, 0])).count == 1)
        #expect(try mismatches(Self.bundle(ratios: [(0.5).nextUp])).count == 1)
        #expect(try mismatches(Self.bf16(Array(Self.rounded.prefix(2)))).count == 1)
    }
}
