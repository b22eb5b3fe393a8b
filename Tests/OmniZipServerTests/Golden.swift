import Foundation
import OmniZipWire

/// The parity vectors: `../shared/golden` beside the package when present, else the copy
/// committed under Tests/OmniZipCoreTests/Fixtures/golden; nil when neither exists.
enum Golden {
    static let directory: URL? = {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden"),
            packageRoot.appendingPathComponent("Tests/OmniZipCoreTests/Fixtures/golden"),
        ]
        return candidates.first { !cases(in: $0).isEmpty }
    }()

    /// Case names (without `.request.safetensors`), sorted.
    static var cases: [String] { directory.map(cases(in:)) ?? [] }

    private static func cases(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".request.safetensors") }
            .map { String($0.dropLast(".request.safetensors".count)) }
            .filter { names.contains("\($0).expected.safetensors") }
            .sorted()
    }

    static func request(_ name: String) throws -> [UInt8] { try read("\(name).request.safetensors") }

    /// The expectation under `video_budget=exact`, from the `golden-exact` folder beside the
    /// golden one (shared, or the committed fixtures).
    static func expectedExact(_ name: String) throws -> [UInt8] {
        guard let directory else { throw CocoaError(.fileNoSuchFile) }
        let exact = directory.deletingLastPathComponent().appendingPathComponent(directory.lastPathComponent + "-exact")
        return [UInt8](try Data(contentsOf: exact.appendingPathComponent("\(name).exact.safetensors")))
    }
    static func expected(_ name: String) throws -> [UInt8] { try read("\(name).expected.safetensors") }

    private static func read(_ file: String) throws -> [UInt8] {
        guard let directory else { throw CocoaError(.fileNoSuchFile) }
        return [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
    }

    /// The small cases, for tests that only need a valid request.
    static func smallest() throws -> [UInt8]? {
        guard let name = cases.min(by: { size($0) < size($1) }) else { return nil }
        return try request(name)
    }

    static func largest() -> String? { cases.max { size($0) < size($1) } }

    static func size(_ name: String) -> Int {
        guard let directory else { return 0 }
        let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("\(name).request.safetensors").path)
        return (attributes?[.size] as? Int) ?? 0
    }
}

/// Reads a safetensors file held in an array.
struct Tensors {
    let bytes: [UInt8]
    let file: SafetensorsFile

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        file = try bytes.withUnsafeBytes { try SafetensorsFile(parsing: $0) }
    }

    var metadata: [String: String] { file.metadata }
    var names: Set<String> { Set(file.tensors.map(\.name)) }

    func dtype(_ name: String) -> SafetensorsDType? { file.tensor(name)?.dtype }

    func raw(_ name: String) throws -> [UInt8] {
        let tensor = try require(name)
        return try bytes.withUnsafeBytes { [UInt8](try file.bytes(of: tensor, in: $0)) }
    }

    func bools(_ name: String) throws -> [Bool] {
        let tensor = try require(name)
        return try bytes.withUnsafeBytes { try file.boolValues(tensor, in: $0) }
    }

    func ints(_ name: String) throws -> [Int64] {
        let tensor = try require(name)
        return try bytes.withUnsafeBytes { try file.int64Values(tensor, in: $0) }
    }

    func doubles(_ name: String) throws -> [Double] {
        let tensor = try require(name)
        return try bytes.withUnsafeBytes { try file.doubleValues(tensor, in: $0) }
    }

    func floats(_ name: String) throws -> [Float] {
        let tensor = try require(name)
        return try bytes.withUnsafeBytes { try file.floatValues(tensor, in: $0) }
    }

    private func require(_ name: String) throws -> SafetensorsTensor {
        guard let tensor = file.tensor(name) else { throw CocoaError(.coderValueNotFound, userInfo: [NSLocalizedDescriptionKey: "no tensor '\(name)'"]) }
        return tensor
    }
}

enum Parity {
    /// Differences between a /v1/compress response and a golden expectation (empty: parity).
    static func differences(response: Tensors, expected: Tensors) throws -> [String] {
        var problems: [String] = []
        if try response.bools("keep_mask") != expected.bools("keep_mask") { problems.append("keep_mask differs") }
        if try response.ints("merged_index") != expected.ints("merged_index") { problems.append("merged_index differs") }
        for name in ["video_chunk_ratio", "audio_chunk_retention"] where try response.doubles(name) != expected.doubles(name) {
            problems.append("\(name) differs: \(try response.doubles(name)) vs \(try expected.doubles(name))")
        }
        let want = try expected.floats("merged_embeds")
        if response.dtype("merged_embeds") == .bf16 {
            let raw = try response.raw("merged_embeds")
            guard raw.count == want.count * 2 else { return problems + ["merged_embeds has \(raw.count / 2) values, expected \(want.count)"] }
            for i in want.indices {
                let got = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8
                if abs(ordered(got) - ordered(bf16(want[i]))) > 1 {
                    problems.append("merged_embeds[\(i)] BF16 0x\(String(got, radix: 16)) vs rounded expectation 0x\(String(bf16(want[i]), radix: 16))")
                    break
                }
            }
        } else {
            let got = try response.floats("merged_embeds")
            guard got.count == want.count else { return problems + ["merged_embeds has \(got.count) values, expected \(want.count)"] }
            if let i = got.indices.first(where: { abs(got[$0] - want[$0]) > 1e-5 + 1e-5 * abs(want[$0]) }) {
                problems.append("merged_embeds[\(i)] = \(got[i]), expected \(want[i])")
            }
        }
        return problems
    }

    /// Round to nearest even, as torch does.
    static func bf16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// BF16 bit patterns on a line where neighbours differ by one.
    static func ordered(_ h: UInt16) -> Int { h & 0x8000 != 0 ? -Int(h & 0x7FFF) : Int(h) }

    /// Kept audio and video counts of an expectation: keep_mask true at each modality's positions.
    static func keptCounts(request: Tensors, expected: Tensors) throws -> (audio: Int, video: Int) {
        let ids = try request.ints("input_ids")
        let keep = try expected.bools("keep_mask")
        let audioID = Int64(request.metadata["audio_token_id"] ?? "") ?? RequestOptions.defaultAudioTokenID
        let videoID = Int64(request.metadata["video_token_id"] ?? "") ?? RequestOptions.defaultVideoTokenID
        var audio = 0, video = 0
        for (i, id) in ids.enumerated() where keep[i] {
            if id == audioID { audio += 1 } else if id == videoID { video += 1 }
        }
        return (audio, video)
    }
}
