import Foundation
import OmniZipCore
import OmniZipWire

/// The parity vectors: the committed small cases always, and the full set in `../shared/golden`
/// whenever it exists beside the checkout.
enum GoldenCases {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtureDirectory = packageRoot.appendingPathComponent("Tests/OmniZipCoreTests/Fixtures/golden")
    static let sharedDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden")

    /// Case name -> directory holding `NAME.request.safetensors` and `NAME.expected.safetensors`.
    static let all: [String: URL] = {
        var cases: [String: URL] = [:]
        for directory in [fixtureDirectory, sharedDirectory] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names where name.hasSuffix(".request.safetensors") {
                cases[String(name.dropLast(".request.safetensors".count))] = directory
            }
        }
        return cases
    }()

    static var names: [String] { all.keys.sorted() }

    /// Expectations under `video_budget=exact`, for the cases whose request is at hand.
    static let exactFixtureDirectory = packageRoot.appendingPathComponent("Tests/OmniZipCoreTests/Fixtures/golden-exact")
    static let exactSharedDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/golden-exact")
    static let exact: [String: URL] = {
        var cases: [String: URL] = [:]
        for directory in [exactFixtureDirectory, exactSharedDirectory] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names where name.hasSuffix(".exact.safetensors") {
                let base = String(name.dropLast(".exact.safetensors".count))
                if all[base] != nil { cases[base] = directory }
            }
        }
        return cases
    }()

    static var exactNames: [String] { exact.keys.sorted() }

    static func expectedExact(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: exact[name]!.appendingPathComponent("\(name).exact.safetensors")))
    }
    static var sharedAvailable: Bool { FileManager.default.fileExists(atPath: sharedDirectory.path) }

    static func request(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: all[name]!.appendingPathComponent("\(name).request.safetensors")))
    }

    static func expected(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: all[name]!.appendingPathComponent("\(name).expected.safetensors")))
    }
}

/// A parsed response or expectation with typed access by tensor name.
struct TensorBundle {
    let bytes: [UInt8]
    let file: SafetensorsFile

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        file = try bytes.withUnsafeBytes { try SafetensorsFile(parsing: $0) }
    }

    func tensor(_ name: String) throws -> SafetensorsTensor {
        guard let t = file.tensor(name) else { throw TestFailure("tensor '\(name)' missing") }
        return t
    }

    func bools(_ name: String) throws -> [Bool] {
        let t = try tensor(name)
        return try bytes.withUnsafeBytes { try file.boolValues(t, in: $0) }
    }

    func ints(_ name: String) throws -> [Int64] {
        let t = try tensor(name)
        return try bytes.withUnsafeBytes { try file.int64Values(t, in: $0) }
    }

    func doubles(_ name: String) throws -> [Double] {
        let t = try tensor(name)
        return try bytes.withUnsafeBytes { try file.doubleValues(t, in: $0) }
    }

    func floats(_ name: String) throws -> [Float] {
        let t = try tensor(name)
        return try bytes.withUnsafeBytes { try file.floatValues(t, in: $0) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Parity as `golden/README.md` defines it. Returns the mismatches (empty when the response passes).
/// `exact` (a `golden-exact` expectation) replaces the keep mask and adds the per-frame counts.
func parityMismatches(response: TensorBundle, expected: TensorBundle, exact: TensorBundle? = nil) throws -> [String] {
    var problems: [String] = []
    if let exact {
        let frames = try response.ints("video_frame_kept"), expectedFrames = try exact.ints("video_frame_kept")
        if frames != expectedFrames { problems.append("video_frame_kept differs: \(frames) vs \(expectedFrames)") }
        for key in ["kept_audio", "kept_video", "video_budget"] where response.file.metadata[key] != exact.file.metadata[key] {
            problems.append("metadata \(key) is \(response.file.metadata[key] ?? "absent"), expected \(exact.file.metadata[key] ?? "absent")")
        }
    }
    let mask = try response.bools("keep_mask"), expectedMask = try (exact ?? expected).bools("keep_mask")
    if mask != expectedMask {
        let diff = zip(mask, expectedMask).filter { $0 != $1 }.count
        problems.append("keep_mask differs at \(diff) positions (or in length: \(mask.count) vs \(expectedMask.count))")
    }
    for name in ["merged_index"] where try response.ints(name) != expected.ints(name) {
        problems.append("\(name) differs: \(try response.ints(name)) vs \(try expected.ints(name))")
    }
    for name in ["video_chunk_ratio", "audio_chunk_retention"] {
        let got = try response.doubles(name), want = try expected.doubles(name)
        if got.map(\.bitPattern) != want.map(\.bitPattern) { problems.append("\(name) differs: \(got) vs \(want)") }
    }
    let embeds = try response.tensor("merged_embeds"), expectedEmbeds = try expected.tensor("merged_embeds")
    if embeds.shape != expectedEmbeds.shape {
        problems.append("merged_embeds shape \(embeds.shape) vs \(expectedEmbeds.shape)")
        return problems
    }
    let got = try response.floats("merged_embeds"), want = try expected.floats("merged_embeds")
    if embeds.dtype == .bf16 {
        // BF16 requests: the BF16 rounding of the expected value, allowing 1 ulp.
        for (i, (g, w)) in zip(got, want).enumerated() {
            let rounded = Int32(bf16Rounded(w)), actual = Int32(g.bitPattern >> 16)
            if abs(rounded - actual) > 1 { problems.append("merged_embeds[\(i)] = \(g), expected about \(w)"); break }
        }
    } else {
        for (i, (g, w)) in zip(got, want).enumerated() where abs(g - w) > 1e-5 + 1e-5 * abs(w) {
            problems.append("merged_embeds[\(i)] = \(g), expected \(w)")
            break
        }
    }
    return problems
}

/// Round-to-nearest-even BF16 bits of a float (independent of the code under test).
func bf16Rounded(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    return UInt16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
}

/// Runs one golden request through the wire decoder and the core, as the CLI and server do.
func compressGolden(_ request: [UInt8], workers: Int = 2, allowBF16: Bool = true,
                    overrides: [String: String] = [:]) throws -> TensorBundle {
    let response = try request.withUnsafeBytes { body in
        let decoded = try RequestDecoder.decode(body, overrides: overrides, requireEmbeddings: true)
        let result = try Compressor(workers: workers, allowBF16DotProducts: allowBF16).compress(try decoded.compressionInput())
        return ResponseEncoder.compress(decoded, result, includeEmbeddings: false).serialized()
    }
    return try TensorBundle(response)
}
