import Testing
@testable import OmniZipWire

@Suite struct SafetensorsWriterTests {
    @Test func headerMatchesReferenceLayout() throws {
        var writer = SafetensorsWriter(metadata: ["format": "pt", "a": "1"])
        writer.add("x", dtype: .f32, shape: [2], elements: [Float(1), 2])
        writer.add("idx", dtype: .u8, shape: [1, 1], bytes: [9])
        let header = String(decoding: writer.headerJSON(), as: UTF8.self)
        let expected =
            #"{"__metadata__":{"a":"1","format":"pt"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"idx":{"dtype":"U8","shape":[1,1],"data_offsets":[8,9]}}"#
        #expect(header.hasPrefix(expected))
        #expect(header.dropFirst(expected.utf8.count).allSatisfy { $0 == " " })
        #expect((8 + header.utf8.count) % 8 == 0)
        #expect(header.utf8.count - expected.utf8.count < 8)

        let bytes = writer.serialized()
        #expect(bytes.count == writer.serializedByteCount)
        #expect(Array(bytes[0..<8]) == lengthPrefix(UInt64(header.utf8.count)))
        #expect(Array(bytes.suffix(9)) == [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 9])
    }

    @Test func emptyWriterMatchesPython() {
        // Python: save({}) == b'\x08\0\0\0\0\0\0\0{}      '
        #expect(SafetensorsWriter().serialized() == lengthPrefix(8) + Array("{}      ".utf8))
    }

    @Test(arguments: SafetensorsDType.allCases)
    func roundTripsEveryDType(dtype: SafetensorsDType) throws {
        let count = 5
        let payload = (0..<(count * dtype.byteWidth)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let bytesForDType = dtype == .bool ? [1, 0, 1, 1, 0] : payload
        var writer = SafetensorsWriter()
        writer.add("pad", dtype: .u8, shape: [3], bytes: [1, 2, 3]) // misaligns the next tensor on purpose
        writer.add("t", dtype: dtype, shape: [count], bytes: bytesForDType)
        writer.add("zero", dtype: dtype, shape: [0, 7], bytes: [])
        let file = try parse(writer.serialized())
        let serialized = writer.serialized()
        let t = try #require(file.tensor("t"))
        #expect(t.dtype == dtype)
        #expect(t.shape == [count])
        #expect(Array(serialized[t.dataRange]) == bytesForDType)
        let zero = try #require(file.tensor("zero"))
        #expect(zero.shape == [0, 7])
        #expect(zero.dataRange.isEmpty)
    }

    @Test func typedElementsAreStoredLittleEndian() throws {
        var writer = SafetensorsWriter()
        writer.add("i16", dtype: .i16, shape: [2], elements: [Int16(-2), 0x0102])
        writer.add("f64", dtype: .f64, shape: [1], elements: [1.5])
        writer.add("i32", dtype: .i32, shape: [1, 2], elements: [Int32.min, 7])
        let bytes = writer.serialized()
        let file = try parse(bytes)
        #expect(Array(bytes[try #require(file.tensor("i16")).dataRange]) == [0xFE, 0xFF, 0x02, 0x01])
        #expect(Array(bytes[try #require(file.tensor("f64")).dataRange]) == [0, 0, 0, 0, 0, 0, 0xF8, 0x3F])
        try bytes.withUnsafeBytes { raw throws in
            #expect(try file.int64Values(#require(file.tensor("i32")), in: raw) == [Int64(Int32.min), 7])
        }
    }

    @Test func metadataAndNamesWithEscapesRoundTrip() throws {
        let metadata = [
            "unicode": "héllo 中文 😀",
            "quote\"key": "back\\slash",
            "controls": "\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}",
            "": "empty key",
            "slash/": "</script>",
        ]
        var writer = SafetensorsWriter(metadata: metadata)
        let names = ["weird \"name\"\n", "日本語", "tab\there", "\u{1}"]
        for (i, name) in names.enumerated() {
            writer.add(name, dtype: .u8, shape: [1], bytes: [UInt8(i)])
        }
        let bytes = writer.serialized()
        let file = try parse(bytes)
        #expect(file.metadata == metadata)
        #expect(file.tensors.map(\.name) == names)
        let header = String(decoding: writer.headerJSON(), as: UTF8.self)
        #expect(header.contains(#""controls":"\n\r\t\b\f\u0000\u001f\#u{7F}""#))
        #expect(header.contains("héllo 中文 😀")) // non-ASCII stays raw UTF-8, as serde_json writes it
    }

    @Test func fillWritesInPlace() throws {
        var writer = SafetensorsWriter()
        writer.add("filled", dtype: .u16, shape: [4], count: 8) { buffer in
            for i in 0..<4 { buffer.storeBytes(of: UInt16(i * 1000).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        }
        writer.add("lazy", dtype: .u8, shape: [4], count: 4) { _ in } // writes nothing: must read back zeros
        let bytes = writer.serialized()
        let file = try parse(bytes)
        try bytes.withUnsafeBytes { raw throws in
            #expect(try file.int64Values(#require(file.tensor("filled")), in: raw) == [0, 1000, 2000, 3000])
            #expect(try file.int64Values(#require(file.tensor("lazy")), in: raw) == [0, 0, 0, 0])
        }
    }

    @Test func serializeIntoPreallocatedBuffer() throws {
        var writer = SafetensorsWriter(metadata: ["k": "v"])
        writer.add("x", dtype: .f32, shape: [3], elements: [Float(1), 2, 3])
        let expected = writer.serialized()
        var out = [UInt8](repeating: 0xEE, count: writer.serializedByteCount + 5)
        let written = out.withUnsafeMutableBytes { writer.serialize(into: $0) }
        #expect(written == expected.count)
        #expect(Array(out[0..<written]) == expected)
        #expect(out[written...].allSatisfy { $0 == 0xEE })
    }

    /// A large tensor is filled once, as one buffer (no per-element path): checked by what the
    /// fill closure sees, not by a wall clock (speed belongs to the benchmarks).
    @Test func largeTensorIsFilledInPlaceOnce() throws {
        let byteCount = 60 << 20
        var writer = SafetensorsWriter(metadata: ["size": "60MB"])
        var calls: [Int] = []
        writer.add("big", dtype: .f32, shape: [byteCount / 4], count: byteCount) { buffer in
            calls.append(buffer.count)
            buffer.storeBytes(of: 0xDEAD_BEEF, toByteOffset: byteCount - 4, as: UInt32.self)
        }
        var out = [UInt8](repeating: 0, count: writer.serializedByteCount)
        let written = out.withUnsafeMutableBytes { writer.serialize(into: $0) }
        #expect(calls == [byteCount])
        let file = try parse(Array(out[0..<written]))
        let big = try #require(file.tensor("big"))
        #expect(big.dataRange.count == byteCount)
        #expect(out.withUnsafeBytes { $0.loadLE(at: big.dataRange.upperBound - 4, as: UInt32.self) } == 0xDEAD_BEEF)
    }
}
