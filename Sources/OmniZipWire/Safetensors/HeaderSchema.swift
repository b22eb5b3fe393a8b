/// A tensor entry after schema checks but before its offsets are placed in the file.
struct HeaderTensorEntry {
    let name: String
    let dtype: SafetensorsDType
    let shape: [Int]
    let elementCount: Int
    let begin: Int
    let end: Int
}

/// Checks parsed header JSON against the safetensors schema.
enum HeaderSchema {
    static func metadata(_ value: HeaderJSON) throws(SafetensorsError) -> [String: String] {
        guard case .object(let members) = value else {
            throw SafetensorsError("'__metadata__' must be an object of strings, but it is \(value.kindDescription)")
        }
        var result: [String: String] = [:]
        result.reserveCapacity(members.count)
        for member in members {
            guard case .string(let text) = member.value else {
                throw SafetensorsError(
                    "'__metadata__' value for key \(quoted(member.key)) must be a string, but it is \(member.value.kindDescription)")
            }
            result[member.key] = text
        }
        return result
    }

    static func tensorEntry(name: String, _ value: HeaderJSON) throws(SafetensorsError) -> HeaderTensorEntry {
        // Computed only when an error is thrown; quoting every name costs more than parsing it.
        var label: String { "tensor \(quoted(name))" }
        guard !name.isEmpty else {
            throw SafetensorsError("header has a tensor with an empty name")
        }
        guard case .object(let members) = value else {
            throw SafetensorsError("\(label): entry must be an object with dtype, shape and data_offsets, but it is \(value.kindDescription)")
        }
        var dtypeValue: HeaderJSON?
        var shapeValue: HeaderJSON?
        var offsetsValue: HeaderJSON?
        for member in members {
            switch member.key {
            case "dtype": dtypeValue = member.value
            case "shape": shapeValue = member.value
            case "data_offsets": offsetsValue = member.value
            default: throw SafetensorsError("\(label): unexpected key \(quoted(member.key)); allowed keys are dtype, shape and data_offsets")
            }
        }
        guard let dtypeValue else { throw SafetensorsError("\(label): missing 'dtype'") }
        guard let shapeValue else { throw SafetensorsError("\(label): missing 'shape'") }
        guard let offsetsValue else { throw SafetensorsError("\(label): missing 'data_offsets'") }

        guard case .string(let dtypeName) = dtypeValue else {
            throw SafetensorsError("\(label): dtype must be a string, but it is \(dtypeValue.kindDescription)")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError("\(label): unknown dtype \(quoted(dtypeName))")
        }
        let shape = try integers(shapeValue, field: "shape", tensor: name)
        let offsets = try integers(offsetsValue, field: "data_offsets", tensor: name)
        guard offsets.count == 2 else {
            throw SafetensorsError("\(label): data_offsets must hold exactly two integers [begin, end], but it holds \(offsets.count)")
        }
        let begin = offsets[0], end = offsets[1]
        guard begin <= end else {
            throw SafetensorsError("\(label): data_offsets [\(begin), \(end)] end before they begin")
        }
        guard let elementCount = checkedElementCount(shape) else {
            throw SafetensorsError("\(label): shape \(describeShape(shape)) has more elements than fit in Int")
        }
        let (needed, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow else {
            throw SafetensorsError("\(label): shape \(describeShape(shape)) of \(dtype.rawValue) needs more bytes than fit in Int")
        }
        guard needed == end - begin else {
            throw SafetensorsError(
                "\(label): data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(describeShape(shape)) of \(dtype.rawValue) needs \(needed)"
            )
        }
        return HeaderTensorEntry(name: name, dtype: dtype, shape: shape, elementCount: elementCount, begin: begin, end: end)
    }

    private static func integers(_ value: HeaderJSON, field: String, tensor name: String) throws(SafetensorsError) -> [Int] {
        var label: String { "tensor \(quoted(name))" }
        guard case .array(let elements) = value else {
            throw SafetensorsError("\(label): \(field) must be an array of non-negative integers, but it is \(value.kindDescription)")
        }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for (position, element) in elements.enumerated() {
            guard case .nonNegativeInteger(let n) = element else {
                throw SafetensorsError(
                    "\(label): \(field)[\(position)] must be a non-negative integer that fits in Int, but it is \(element.kindDescription)")
            }
            result.append(n)
        }
        return result
    }

    /// Sorts entries by offset and requires them to cover `0..<dataByteCount` exactly once.
    static func checkTiling(_ entries: [HeaderTensorEntry], dataByteCount: Int) throws(SafetensorsError) -> [HeaderTensorEntry] {
        guard !entries.isEmpty else {
            if dataByteCount != 0 {
                throw SafetensorsError("file has no tensors but \(dataByteCount) bytes follow the header")
            }
            return []
        }
        let ordered = entries.sorted { a, b in
            (a.begin, a.end, a.name) < (b.begin, b.end, b.name)
        }
        var expected = 0
        var previous: HeaderTensorEntry?
        for entry in ordered {
            var label: String { "tensor \(quoted(entry.name))" }
            if entry.begin != expected {
                guard let previous else {
                    throw SafetensorsError(
                        "\(label): data_offsets [\(entry.begin), \(entry.end)] leave a gap: the first tensor must begin at offset 0")
                }
                let other = "tensor \(quoted(previous.name)) [\(previous.begin), \(previous.end)]"
                if entry.begin > expected {
                    throw SafetensorsError(
                        "\(label): data_offsets [\(entry.begin), \(entry.end)] leave a gap of \(entry.begin - expected) bytes after \(other)")
                }
                throw SafetensorsError("\(label): data_offsets [\(entry.begin), \(entry.end)] overlap \(other)")
            }
            guard entry.end <= dataByteCount else {
                throw SafetensorsError(
                    "\(label): data_offsets [\(entry.begin), \(entry.end)] run past the end of the \(dataByteCount)-byte data section")
            }
            expected = entry.end
            previous = entry
        }
        if expected != dataByteCount, let previous {
            throw SafetensorsError(
                "file has \(dataByteCount - expected) trailing bytes after the data of the last tensor \(quoted(previous.name)), which ends at offset \(expected)"
            )
        }
        return ordered
    }
}
