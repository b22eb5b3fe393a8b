/// Builds a safetensors file in memory.
///
/// Tensors are laid out in insertion order. The header lists `__metadata__` first (keys sorted,
/// omitted when empty), then tensors in insertion order, and is padded with spaces so that
/// 8 + N is a multiple of 8, matching the reference Python writer.
///
/// Misuse (an empty, reserved or repeated name, or bytes that do not match the shape) is a
/// programming error and stops the process with a precondition failure.
public struct SafetensorsWriter: Sendable {
    private struct Entry: Sendable {
        let name: String
        let dtype: SafetensorsDType
        let shape: [Int]
        let bytes: [UInt8]
    }

    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names: Set<String> = []

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    public var tensorCount: Int { entries.count }

    /// Adds a tensor whose little-endian bytes are given; the array is shared, not copied.
    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        checkNewTensor(name, dtype: dtype, shape: shape, byteCount: bytes.count)
        names.insert(name)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// Adds a tensor from typed elements, copying their raw bytes (byte-swapped on big-endian hosts).
    public mutating func add<T: BitwiseCopyable>(_ name: String, dtype: SafetensorsDType, shape: [Int], elements: [T]) {
        precondition(
            MemoryLayout<T>.size == dtype.byteWidth && MemoryLayout<T>.stride == dtype.byteWidth,
            "SafetensorsWriter: \(T.self) is \(MemoryLayout<T>.size) bytes but \(dtype.rawValue) elements are \(dtype.byteWidth)")
        var bytes = elements.withUnsafeBytes { [UInt8]($0) }
        #if _endian(big)
            Self.swapEachElement(&bytes, width: dtype.byteWidth)
        #endif
        add(name, dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Adds a tensor of `byteCount` bytes that `fill` writes in place into writer-owned storage,
    /// avoiding an intermediate array for large tensors. The storage starts zeroed so a `fill`
    /// that writes less cannot leak stale heap memory into the file.
    public mutating func add(
        _ name: String, dtype: SafetensorsDType, shape: [Int], count byteCount: Int,
        fill: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        checkNewTensor(name, dtype: dtype, shape: shape, byteCount: byteCount)
        var bytes = [UInt8](repeating: 0, count: byteCount)
        bytes.withUnsafeMutableBytes { fill($0) }
        names.insert(name)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// The header JSON including its space padding (N bytes, without the length prefix).
    public func headerJSON() -> [UInt8] {
        var json = SafetensorsHeaderEncoder()
        json.beginObject()
        if !metadata.isEmpty {
            json.key("__metadata__")
            json.beginObject()
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                json.key(key)
                json.string(value)
            }
            json.endObject()
        }
        var offset = 0
        for entry in entries {
            json.key(entry.name)
            json.beginObject()
            json.key("dtype")
            json.string(entry.dtype.rawValue)
            json.key("shape")
            json.integers(entry.shape)
            json.key("data_offsets")
            json.integers([offset, offset + entry.bytes.count])
            json.endObject()
            offset += entry.bytes.count
        }
        json.endObject()
        json.padWithSpaces(toMultipleOf: 8)
        return json.bytes
    }

    /// Exact size of `serialized()`.
    public var serializedByteCount: Int {
        8 + headerJSON().count + entries.reduce(0) { $0 + $1.bytes.count }
    }

    /// The complete file. Each tensor is copied with a single memcpy.
    public func serialized() -> [UInt8] {
        let header = headerJSON()
        let total = 8 + header.count + entries.reduce(0) { $0 + $1.bytes.count }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            initialized = write(header: header, into: raw)
        }
    }

    /// Writes the file into `destination`, which must be at least `serializedByteCount` bytes
    /// (for example a memory-mapped output file). Returns the number of bytes written.
    @discardableResult
    public func serialize(into destination: UnsafeMutableRawBufferPointer) -> Int {
        write(header: headerJSON(), into: destination)
    }

    private func write(header: [UInt8], into destination: UnsafeMutableRawBufferPointer) -> Int {
        let total = 8 + header.count + entries.reduce(0) { $0 + $1.bytes.count }
        precondition(destination.count >= total, "SafetensorsWriter: destination holds \(destination.count) bytes but the file needs \(total)")
        destination.storeBytes(of: UInt64(header.count).littleEndian, toByteOffset: 0, as: UInt64.self)
        var cursor = 8
        header.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: destination[cursor..<(cursor + source.count)]).copyMemory(from: source)
        }
        cursor += header.count
        for entry in entries {
            entry.bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: destination[cursor..<(cursor + source.count)]).copyMemory(from: source)
            }
            cursor += entry.bytes.count
        }
        return cursor
    }

    private func checkNewTensor(_ name: String, dtype: SafetensorsDType, shape: [Int], byteCount: Int) {
        precondition(!name.isEmpty, "SafetensorsWriter: tensor names must not be empty")
        precondition(name != "__metadata__", "SafetensorsWriter: '__metadata__' is reserved and cannot name a tensor")
        precondition(!names.contains(name), "SafetensorsWriter: tensor '\(name)' was already added")
        guard let elements = checkedElementCount(shape) else {
            preconditionFailure("SafetensorsWriter: tensor '\(name)' has invalid shape \(describeShape(shape))")
        }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
        precondition(
            !overflow && needed == byteCount,
            "SafetensorsWriter: tensor '\(name)' has \(byteCount) bytes but shape \(describeShape(shape)) of \(dtype.rawValue) needs \(needed)")
    }

    #if _endian(big)
        private static func swapEachElement(_ bytes: inout [UInt8], width: Int) {
            guard width > 1 else { return }
            var start = 0
            while start + width <= bytes.count {
                bytes[start..<(start + width)].reverse()
                start += width
            }
        }
    #endif
}
