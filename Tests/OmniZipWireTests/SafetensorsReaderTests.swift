import Testing
@testable import OmniZipWire

@Suite struct SafetensorsReaderTests {
    @Test func parsesHandBuiltFile() throws {
        let data: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 7, 9] // F32 1, 2 then U8 7, 9
        let header = "{\"__metadata__\":{\"k\":\"v\"}," + entry("b", "U8", [2], 8, 10) + "," + entry("a", "F32", [2], 0, 8) + "}"
        let bytes = fileBytes(header: header, data: data)
        let file = try parse(bytes)
        #expect(file.metadata == ["k": "v"])
        #expect(file.tensors.map(\.name) == ["a", "b"]) // data-offset order, not header order
        #expect(file.headerByteCount % 8 == 0)
        #expect(file.dataByteCount == 10)
        #expect(file.fileByteCount == bytes.count)
        let a = try #require(file.tensor("a"))
        #expect(a.dtype == .f32)
        #expect(a.shape == [2])
        #expect(a.elementCount == 2)
        #expect(a.dataRange == file.headerByteCount..<(file.headerByteCount + 8))
        #expect(file.tensor("missing") == nil)
        try bytes.withUnsafeBytes { raw throws in
            #expect(try file.floatValues(a, in: raw) == [1, 2])
            #expect(try file.int64Values(#require(file.tensor("b")), in: raw) == [7, 9])
        }
    }

    @Test func unpaddedHeaderIsAccepted() throws {
        let file = try parse(fileBytes(header: "{" + entry("x", "U8", [1], 0, 1) + "}", data: [5], pad: false))
        #expect(file.tensors.count == 1)
    }

    @Test func emptyFile() throws {
        let file = try parse(fileBytes(header: "{}"))
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.isEmpty)
        #expect(try parse(fileBytes(header: "{\"__metadata__\":{}}")).tensors.isEmpty)
    }

    @Test func zeroElementTensors() throws {
        let header =
            "{"
            + [
                entry("z1", "F32", [0], 0, 0), entry("mid", "U8", [2], 0, 2),
                entry("z2", "I64", [0, 128], 2, 2), entry("z3", "BF16", [3, 0], 2, 2),
                entry("tail", "U8", [1], 2, 3),
            ].joined(separator: ",") + "}"
        let file = try parse(fileBytes(header: header, data: [1, 2, 3]))
        #expect(file.tensors.map(\.name) == ["z1", "mid", "z2", "z3", "tail"])
        let z2 = try #require(file.tensor("z2"))
        #expect(z2.elementCount == 0)
        #expect(z2.dataRange.isEmpty)
        #expect(try parse(fileBytes(header: "{" + entry("only", "F64", [0], 0, 0) + "}")).tensors.count == 1)
    }

    @Test func scalarTensorHasOneElement() throws {
        let file = try parse(fileBytes(header: "{" + entry("s", "I32", [], 0, 4) + "}", data: [0xFF, 0xFF, 0xFF, 0xFF]))
        let s = try #require(file.tensor("s"))
        #expect(s.elementCount == 1)
        try fileBytes(header: "{" + entry("s", "I32", [], 0, 4) + "}", data: [0xFF, 0xFF, 0xFF, 0xFF]).withUnsafeBytes { raw throws in
            #expect(try file.int64Values(s, in: raw) == [-1])
        }
    }

    @Test func maxHeaderBytesIsEnforced() throws {
        let bytes = fileBytes(header: "{}")
        _ = try parseResult(bytes, maxHeaderBytes: 8).get()
        expectRejected(bytes, "exceeds the limit of 7 bytes", maxHeaderBytes: 7)
    }

    @Test func valueReadersWidenExactly() throws {
        var writer = SafetensorsWriter()
        writer.add("u64", dtype: .u64, shape: [2], elements: [UInt64(5), UInt64(Int64.max)])
        writer.add("big", dtype: .u64, shape: [1], elements: [UInt64.max])
        writer.add("i8", dtype: .i8, shape: [2], elements: [Int8.min, Int8.max])
        writer.add("u32", dtype: .u32, shape: [1], elements: [UInt32.max])
        writer.add("f16", dtype: .f16, shape: [4], elements: [UInt16(0x3C00), 0xC000, 0x0001, 0x7C00])
        writer.add("f64", dtype: .f64, shape: [1], elements: [Double.pi])
        writer.add("mask", dtype: .bool, shape: [2], elements: [true, false])
        writer.add("badmask", dtype: .bool, shape: [1], bytes: [2])
        let bytes = writer.serialized()
        let file = try parse(bytes)
        try bytes.withUnsafeBytes { raw throws in
            func t(_ name: String) throws -> SafetensorsTensor { try #require(file.tensor(name)) }
            #expect(try file.int64Values(t("u64"), in: raw) == [5, Int64.max])
            #expect(try file.int64Values(t("i8"), in: raw) == [-128, 127])
            #expect(try file.int64Values(t("u32"), in: raw) == [Int64(UInt32.max)])
            #expect(try file.floatValues(t("f16"), in: raw) == [1, -2, 0x1p-24, .infinity])
            #expect(try file.doubleValues(t("f16"), in: raw) == [1, -2, 0x1p-24, .infinity])
            #expect(try file.doubleValues(t("f64"), in: raw) == [Double.pi])
            #expect(try file.boolValues(t("mask"), in: raw) == [true, false])
            #expect(throws: SafetensorsError("tensor 'big': U64 element 0 is 18446744073709551615, which does not fit Int64")) {
                try file.int64Values(t("big"), in: raw)
            }
            #expect(throws: SafetensorsError.self) { try file.floatValues(t("f64"), in: raw) }
            #expect(throws: SafetensorsError.self) { try file.int64Values(t("f16"), in: raw) }
            #expect(throws: SafetensorsError.self) { try file.boolValues(t("u32"), in: raw) }
            let badMask = try #require(throws: SafetensorsError.self) { try file.boolValues(t("badmask"), in: raw) }
            #expect(badMask.message.contains("'badmask'"))
            // A buffer of another size is refused rather than read out of bounds.
            let shorter = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 1)])
            #expect(throws: SafetensorsError.self) { try file.bytes(of: t("u64"), in: shorter) }
        }
    }

    @Test func bfloat16IsTopHalfOfFloat() {
        #expect(HalfPrecision.float(fromBF16Bits: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBF16Bits: 0xC040) == -3)
        #expect(HalfPrecision.float(fromBF16Bits: 0x7F80) == .infinity)
    }

    @Test func loadLEReadsUnalignedOffsets() {
        let bytes: [UInt8] = [0xAA, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
        bytes.withUnsafeBytes { raw in
            #expect(raw.loadLE(at: 1, as: UInt32.self) == 0x0403_0201)
            #expect(raw.loadLE(at: 1, as: UInt64.self) == 0x0807_0605_0403_0201)
            #expect(raw.loadLE(at: 0, as: Int8.self) == -86)
        }
    }
}
