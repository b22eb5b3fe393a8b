import Testing
@testable import OmniZipWire

@Suite("Tensor statistics (omnizip inspect)")
struct TensorStatsTests {
    func stats(_ name: String, in writer: SafetensorsWriter) throws -> TensorStats? {
        let bytes = writer.serialized()
        return try bytes.withUnsafeBytes { raw in
            let file = try SafetensorsFile(parsing: raw)
            return TensorStats(file.tensor(name)!, in: file, bytes: raw)
        }
    }

    @Test func floatsSkipNonFiniteAndPrintInTheirOwnPrecision() throws {
        var w = SafetensorsWriter()
        w.add("x", dtype: .f32, shape: [4], elements: [Float(0.1), -2, .nan, .infinity])
        let s = try #require(try stats("x", in: w))
        #expect(s.count == 4 && s.nonFinite == 2)
        #expect(s.min == "-2.0" && s.max == "0.1")
        #expect(s.mean == (Double(Float(0.1)) - 2) / 2)
    }

    @Test func halfFloatsAreWidenedExactly() throws {
        var w = SafetensorsWriter()
        w.add("b", dtype: .bf16, shape: [2], elements: [UInt16(0x3F80), 0xC000]) // 1, -2
        w.add("h", dtype: .f16, shape: [2], elements: [UInt16(0x3C00), 0x3800]) // 1, 0.5
        #expect(try stats("b", in: w)?.min == "-2.0")
        #expect(try stats("h", in: w)?.mean == 0.75)
    }

    @Test func integersAndBooleans() throws {
        var w = SafetensorsWriter()
        w.add("i", dtype: .i64, shape: [3], elements: [Int64(151_656), -1, Int64.max])
        w.add("u", dtype: .u64, shape: [1], elements: [UInt64.max])
        w.add("m", dtype: .bool, shape: [4], elements: [UInt8(1), 0, 1, 1])
        let i = try #require(try stats("i", in: w))
        #expect(i.min == "-1" && i.max == String(Int64.max))
        #expect(try stats("u", in: w)?.max == String(UInt64.max))
        let m = try #require(try stats("m", in: w))
        #expect(m.trueCount == 3 && m.mean == 0.75 && m.min == "false" && m.max == "true")
    }

    @Test func emptyTensorsHaveNoExtremes() throws {
        var w = SafetensorsWriter()
        w.add("e", dtype: .f32, shape: [0, 4], elements: [Float]())
        let s = try #require(try stats("e", in: w))
        #expect(s.count == 0 && s.min == nil && s.mean == nil)
    }
}
