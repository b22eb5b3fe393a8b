/// A parsed view over caller-owned safetensors bytes; does not copy tensor data.
///
/// Parsing validates everything a consumer relies on: after `init` succeeds, every tensor's
/// `dataRange` lies inside the parsed buffer, its length equals `elementCount * byteWidth`,
/// and the ranges tile the data section exactly (no gaps, overlaps or trailing bytes).
public struct SafetensorsFile: Sendable {
    public let metadata: [String: String]
    /// Ordered by data offset (ties, which only zero-byte tensors can have, by name).
    public let tensors: [SafetensorsTensor]
    /// 8 + N: the length prefix plus the JSON header including its padding.
    public let headerByteCount: Int
    /// Size of the data section that follows the header.
    public let dataByteCount: Int
    private let indexByName: [String: Int]

    /// Total size of the buffer this file was parsed from.
    public var fileByteCount: Int { headerByteCount + dataByteCount }

    public init(parsing bytes: UnsafeRawBufferPointer, maxHeaderBytes: Int = 100 << 20) throws(SafetensorsError) {
        let headerLength = try Self.headerLength(of: bytes, maxHeaderBytes: maxHeaderBytes)
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        if let bad = UTF8Validation.firstInvalidOffset(in: json) {
            throw SafetensorsError("header is not valid UTF-8: byte 0x\(hex2(json[bad])) at header offset \(bad) does not start a valid sequence")
        }
        let members = try HeaderJSONParser.parseHeader(json)

        let headerByteCount = 8 + headerLength
        let dataByteCount = bytes.count - headerByteCount
        var metadata: [String: String] = [:]
        var entries: [HeaderTensorEntry] = []
        entries.reserveCapacity(members.count)
        for member in members {
            if member.key == "__metadata__" {
                metadata = try HeaderSchema.metadata(member.value)
            } else {
                entries.append(try HeaderSchema.tensorEntry(name: member.key, member.value))
            }
        }
        let ordered = try HeaderSchema.checkTiling(entries, dataByteCount: dataByteCount)

        var tensors: [SafetensorsTensor] = []
        var indexByName: [String: Int] = [:]
        tensors.reserveCapacity(ordered.count)
        indexByName.reserveCapacity(ordered.count)
        for entry in ordered {
            // checkTiling proved begin <= end <= dataByteCount, so these sums cannot overflow.
            let range = (headerByteCount + entry.begin)..<(headerByteCount + entry.end)
            indexByName[entry.name] = tensors.count
            tensors.append(
                SafetensorsTensor(
                    name: entry.name, dtype: entry.dtype, shape: entry.shape,
                    dataRange: range, elementCount: entry.elementCount))
        }
        self.metadata = metadata
        self.tensors = tensors
        self.headerByteCount = headerByteCount
        self.dataByteCount = dataByteCount
        self.indexByName = indexByName
    }

    public func tensor(_ name: String) -> SafetensorsTensor? {
        indexByName[name].map { tensors[$0] }
    }

    /// Reads and bounds-checks the length prefix, comparing in UInt64 so a value near 2^64
    /// cannot overflow Int arithmetic.
    private static func headerLength(of bytes: UnsafeRawBufferPointer, maxHeaderBytes: Int) throws(SafetensorsError) -> Int {
        guard bytes.count >= 8 else {
            throw SafetensorsError("file is \(bytes.count) bytes, too short for the 8-byte header length prefix")
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared > 0 else {
            throw SafetensorsError("header length is 0; a safetensors header must hold at least '{}'")
        }
        guard declared <= UInt64(max(0, maxHeaderBytes)) else {
            throw SafetensorsError("header length \(declared) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        let available = bytes.count - 8
        guard declared <= UInt64(available) else {
            throw SafetensorsError("header length \(declared) runs past the end of the file: only \(available) bytes follow the length prefix")
        }
        return Int(declared)
    }
}
