import Testing
@testable import OmniZipWire

/// Parses `bytes` and returns the outcome instead of throwing, so tests can assert on either side.
func parseResult(_ bytes: [UInt8], maxHeaderBytes: Int = 100 << 20) -> Result<SafetensorsFile, SafetensorsError> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(SafetensorsError) in try SafetensorsFile(parsing: raw, maxHeaderBytes: maxHeaderBytes) }
    }
}

func parse(_ bytes: [UInt8]) throws -> SafetensorsFile {
    try parseResult(bytes).get()
}

/// Asserts that parsing fails and that the message contains every fragment.
@discardableResult
func expectRejected(
    _ bytes: [UInt8], _ fragments: String..., maxHeaderBytes: Int = 100 << 20,
    sourceLocation: SourceLocation = #_sourceLocation
) -> String? {
    switch parseResult(bytes, maxHeaderBytes: maxHeaderBytes) {
    case .success(let file):
        Issue.record("expected a parse error, but parsed \(file.tensors.count) tensors", sourceLocation: sourceLocation)
        return nil
    case .failure(let error):
        for fragment in fragments {
            #expect(
                error.message.contains(fragment), "message \(error.message.debugDescription) lacks \(fragment.debugDescription)",
                sourceLocation: sourceLocation)
        }
        return error.message
    }
}

/// Length prefix + header (optionally space-padded like the Python writer) + data.
func fileBytes(header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
    var json = Array(header.utf8)
    if pad {
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
    }
    return lengthPrefix(UInt64(json.count)) + json + data
}

func lengthPrefix(_ n: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) }
}

/// Header JSON for one tensor entry.
func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}"
}

/// A small valid file used as the seed for truncation and mutation tests.
func sampleFile() -> [UInt8] {
    var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "é\"\\\n"])
    writer.add("scores", dtype: .f32, shape: [2, 2], elements: [Float(1), 2, 3, 4])
    writer.add("ids", dtype: .i64, shape: [3], elements: [Int64(-1), 0, 1 << 40])
    writer.add("empty", dtype: .f16, shape: [0, 4], bytes: [])
    writer.add("mask", dtype: .bool, shape: [3], bytes: [1, 0, 1])
    writer.add("half", dtype: .bf16, shape: [1], elements: [UInt16(0x3F80)])
    return writer.serialized()
}

/// Checks the guarantees a successful parse promises, for fuzz results.
func expectInvariants(_ file: SafetensorsFile, bufferCount: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(file.fileByteCount == bufferCount, sourceLocation: sourceLocation)
    var cursor = file.headerByteCount
    for tensor in file.tensors {
        #expect(tensor.dataRange.lowerBound == cursor, sourceLocation: sourceLocation)
        #expect(tensor.dataRange.count == tensor.elementCount * tensor.dtype.byteWidth, sourceLocation: sourceLocation)
        cursor = tensor.dataRange.upperBound
    }
    #expect(cursor == bufferCount, sourceLocation: sourceLocation)
}
