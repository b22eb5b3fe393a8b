import OmniZipWire

extension TensorBundle {
    /// A tensor to put in a rewritten file: its dtype, shape and little-endian bytes.
    public typealias Replacement = (dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])

    /// This file written again, for variants of a valid request: `metadata` instead of its own
    /// (when given), without the tensors in `drop`, with `replace` taking the place of tensors of
    /// the same name and the others appended. Tensors keep their order.
    public func rewritten(
        metadata: [String: String]? = nil, drop: Set<String> = [],
        replace: [String: Replacement] = [:]
    ) throws -> [UInt8] {
        var writer = SafetensorsWriter(metadata: metadata ?? self.metadata)
        for tensor in file.tensors where !drop.contains(tensor.name) {
            if let (dtype, shape, bytes) = replace[tensor.name] {
                writer.add(tensor.name, dtype: dtype, shape: shape, bytes: bytes)
            } else {
                writer.add(tensor.name, dtype: tensor.dtype, shape: tensor.shape, bytes: try raw(tensor.name))
            }
        }
        for (name, (dtype, shape, bytes)) in replace.sorted(by: { $0.key < $1.key }) where file.tensor(name) == nil {
            writer.add(name, dtype: dtype, shape: shape, bytes: bytes)
        }
        return writer.serialized()
    }
}
