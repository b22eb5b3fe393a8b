import Foundation
import OmniZipTestSupport
import Testing
@testable import OmniZipWire

/// Compatibility with the reference implementation (Python `safetensors`, Rust underneath).
@Suite struct SafetensorsInteropTests {
    /// Bytes captured from Python safetensors 0.8.0:
    /// `save({"x": np.array([1, 2], np.float32), "a": np.zeros((0, 3), np.int64), "b": np.array([1], np.uint8)},
    ///       metadata={"format": "np", "z": "é\"\n"})`
    /// Python orders tensors by alignment then name, lists the zero-byte tensor 'a' first, and
    /// pads the header with spaces.
    @Test func readsCommittedPythonFixture() throws {
        let header =
            #"{"__metadata__":{"z":"é\"\n","format":"np"},"a":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}}   "#
        let bytes: [UInt8] = [0xD0, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8) + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 1]
        #expect(bytes.count == 225)
        let file = try parse(bytes)
        #expect(file.metadata == ["format": "np", "z": "é\"\n"])
        #expect(file.tensors.map(\.name) == ["a", "x", "b"])
        #expect(file.headerByteCount == 216)
        try bytes.withUnsafeBytes { raw throws in
            #expect(try file.int64Values(#require(file.tensor("a")), in: raw) == [])
            #expect(try #require(file.tensor("a")).shape == [0, 3])
            #expect(try file.floatValues(#require(file.tensor("x")), in: raw) == [1, 2])
            #expect(try file.int64Values(#require(file.tensor("b")), in: raw) == [1])
        }
    }

    @Test(.requires(Python.prerequisite))
    func readsFileWrittenByPython() throws {
        let path = Python.temporaryPath("from-python.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Python.run(
            """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({
                "f32": np.array([[1.5, -2.0, 3.25]], dtype=np.float32),
                "f16": np.array([1.0, -0.5, 65504.0, 2.0**-24], dtype=np.float16),
                "f64": np.array([np.pi], dtype=np.float64),
                "i8": np.array([-128, 127], dtype=np.int8), "u8": np.array([0, 255], dtype=np.uint8),
                "i16": np.array([-32768], dtype=np.int16), "u16": np.array([65535], dtype=np.uint16),
                "i32": np.array([-2**31], dtype=np.int32), "u32": np.array([2**32 - 1], dtype=np.uint32),
                "i64": np.array([-2**63, 2**62], dtype=np.int64), "u64": np.array([2**63 - 1], dtype=np.uint64),
                "mask": np.array([True, False, True]), "empty": np.zeros((0, 4), dtype=np.float32),
            }, sys.argv[1], metadata={"format": "np", "note": "héllo \\"q\\"\\n😀"})
            """, arguments: [path])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try parse(bytes)
        #expect(file.metadata == ["format": "np", "note": "héllo \"q\"\n😀"])
        #expect(file.tensors.count == 13)
        try bytes.withUnsafeBytes { raw throws in
            func t(_ name: String) throws -> SafetensorsTensor { try #require(file.tensor(name)) }
            #expect(try t("f32").shape == [1, 3])
            #expect(try file.floatValues(t("f32"), in: raw) == [1.5, -2, 3.25])
            #expect(try file.floatValues(t("f16"), in: raw) == [1, -0.5, 65504, 0x1p-24])
            #expect(try file.doubleValues(t("f64"), in: raw) == [Double.pi])
            #expect(try file.int64Values(t("i8"), in: raw) == [-128, 127])
            #expect(try file.int64Values(t("u8"), in: raw) == [0, 255])
            #expect(try file.int64Values(t("i16"), in: raw) == [-32768])
            #expect(try file.int64Values(t("u16"), in: raw) == [65535])
            #expect(try file.int64Values(t("i32"), in: raw) == [Int64(Int32.min)])
            #expect(try file.int64Values(t("u32"), in: raw) == [Int64(UInt32.max)])
            #expect(try file.int64Values(t("i64"), in: raw) == [Int64.min, 1 << 62])
            #expect(try file.int64Values(t("u64"), in: raw) == [Int64.max])
            #expect(try file.boolValues(t("mask"), in: raw) == [true, false, true])
            #expect(try t("empty").shape == [0, 4])
        }
    }

    @Test(.requires(Python.prerequisite))
    func pythonReadsFileWrittenBySwift() throws {
        var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "héllo \"q\"\n\t😀", "back\\slash": "\u{1}"])
        writer.add("odd", dtype: .u8, shape: [3], bytes: [1, 2, 3]) // leaves the next tensor unaligned
        writer.add("scores", dtype: .f32, shape: [2, 2], elements: [Float(0.5), -1, 2, 1e-3])
        writer.add("ids", dtype: .i64, shape: [2], elements: [Int64.min, 42])
        writer.add("half", dtype: .f16, shape: [2], elements: [UInt16(0x3C00), 0xC000])
        writer.add("mask", dtype: .bool, shape: [2], elements: [false, true])
        writer.add("none", dtype: .f64, shape: [0, 3], bytes: [])
        writer.add("名前 \"q\"", dtype: .u16, shape: [1], elements: [UInt16(7)])
        let path = Python.temporaryPath("from-swift.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(writer.serialized()).write(to: URL(fileURLWithPath: path))
        try Python.run(
            """
            import sys, numpy as np
            from safetensors import safe_open
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1])
            with safe_open(sys.argv[1], "np") as f:
                md = f.metadata()
            assert md == {"format": "pt", "note": "héllo \\"q\\"\\n\\t😀", "back\\\\slash": "\\x01"}, md
            assert t["odd"].tolist() == [1, 2, 3]
            assert t["scores"].dtype == np.float32 and t["scores"].shape == (2, 2)
            assert t["scores"].ravel().tolist() == np.array([0.5, -1, 2, 1e-3], dtype=np.float32).tolist()
            assert t["ids"].tolist() == [-2**63, 42]
            assert t["half"].dtype == np.float16 and t["half"].tolist() == [1.0, -2.0]
            assert t["mask"].tolist() == [False, True]
            assert t["none"].shape == (0, 3) and t["none"].dtype == np.float64
            assert t['名前 "q"'].tolist() == [7]
            assert len(t) == 7, sorted(t)
            """, arguments: [path])
    }

    @Test(.requires(Python.prerequisite))
    func writerOutputIsByteIdenticalToPython() throws {
        let output = try Python.run(
            """
            import numpy as np
            from safetensors.numpy import save
            print(save({"a": np.array([1, 2], dtype=np.float32), "b": np.array([[3]], dtype=np.float32)},
                       metadata={"format": "pt"}).hex())
            """)
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        writer.add("a", dtype: .f32, shape: [2], elements: [Float(1), 2])
        writer.add("b", dtype: .f32, shape: [1, 1], elements: [Float(3)])
        let ours = writer.serialized().map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(ours == output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
