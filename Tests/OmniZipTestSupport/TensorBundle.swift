import Foundation
import OmniZipWire

/// A safetensors file held in memory, with typed access by tensor name: responses, golden
/// requests and expectations alike.
public struct TensorBundle: Sendable {
    public let bytes: [UInt8]
    public let file: SafetensorsFile

    public init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        file = try bytes.withUnsafeBytes { try SafetensorsFile(parsing: $0) }
    }

    public init(contentsOf url: URL) throws {
        try self.init([UInt8](Data(contentsOf: url)))
    }

    public var metadata: [String: String] { file.metadata }
    public var names: Set<String> { Set(file.tensors.map(\.name)) }

    public func dtype(_ name: String) -> SafetensorsDType? { file.tensor(name)?.dtype }

    /// Throws rather than returning nil so a missing tensor fails the test with its name.
    public func tensor(_ name: String) throws -> SafetensorsTensor {
        guard let tensor = file.tensor(name) else { throw TestFailure("tensor '\(name)' missing") }
        return tensor
    }

    /// The stored bytes, for comparisons that must not go through a conversion.
    public func raw(_ name: String) throws -> [UInt8] {
        let tensor = try tensor(name)
        return try bytes.withUnsafeBytes { [UInt8](try file.bytes(of: tensor, in: $0)) }
    }

    public func bools(_ name: String) throws -> [Bool] {
        let tensor = try tensor(name)
        return try bytes.withUnsafeBytes { try file.boolValues(tensor, in: $0) }
    }

    public func ints(_ name: String) throws -> [Int64] {
        let tensor = try tensor(name)
        return try bytes.withUnsafeBytes { try file.int64Values(tensor, in: $0) }
    }

    public func doubles(_ name: String) throws -> [Double] {
        let tensor = try tensor(name)
        return try bytes.withUnsafeBytes { try file.doubleValues(tensor, in: $0) }
    }

    public func floats(_ name: String) throws -> [Float] {
        let tensor = try tensor(name)
        return try bytes.withUnsafeBytes { try file.floatValues(tensor, in: $0) }
    }
}
