import OmniZipTestSupport
import Testing
@testable import OmniZipWire

/// Robustness: no byte string may crash the reader. These tests only require that parsing
/// either throws or returns a file whose promised invariants hold.
@Suite struct SafetensorsFuzzTests {
    @Test func everyPrefixThrowsUntilComplete() throws {
        let full = sampleFile()
        for length in 0..<full.count {
            if case .success = parseResult(Array(full[0..<length])) {
                Issue.record("prefix of \(length)/\(full.count) bytes parsed")
            }
        }
        let file = try parse(full)
        #expect(file.tensors.count == 5)
        expectInvariants(file, bufferCount: full.count)
    }

    @Test func twentyThousandMutantsNeverCrash() {
        var rng = SeededRandom(0x5AFE_7E45)
        let seeds = Self.seeds()
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                Self.mutate(&bytes, using: &rng)
            }
            if case .success(let file) = parseResult(bytes) {
                parsed += 1
                expectInvariants(file, bufferCount: bytes.count)
                Self.readAllValues(file, bytes)
            }
        }
        // Some mutations (e.g. flipping a data byte) keep files valid; make sure that path ran too.
        #expect(parsed > 0)
    }

    private static func seeds() -> [[UInt8]] {
        var single = SafetensorsWriter()
        single.add("w", dtype: .f16, shape: [2, 3], elements: [UInt16](repeating: 0x3C00, count: 6))
        var escaped = SafetensorsWriter(metadata: ["k\u{1}": "v😀\"", "format": "pt"])
        escaped.add("名前", dtype: .u64, shape: [1], elements: [UInt64.max])
        escaped.add("z", dtype: .i32, shape: [0], bytes: [])
        return [sampleFile(), single.serialized(), escaped.serialized(), SafetensorsWriter().serialized()]
    }

    private static func mutate(_ bytes: inout [UInt8], using rng: inout SeededRandom) {
        let headerEnd = min(
            bytes.count, 8 + Int(truncatingIfNeeded: bytes.count >= 8 ? bytes.withUnsafeBytes { $0.loadLE(at: 0, as: UInt32.self) } : 0))
        func position(inHeader: Bool) -> Int? {
            guard !bytes.isEmpty else { return nil }
            if inHeader, headerEnd > 8 { return Int.random(in: 8..<headerEnd, using: &rng) }
            return Int.random(in: 0..<bytes.count, using: &rng)
        }
        switch Int.random(in: 0..<9, using: &rng) {
        case 0: // random byte anywhere
            if let i = position(inHeader: false) { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        case 1: // bit flip in the header, where structure lives
            if let i = position(inHeader: true) { bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng) }
        case 2: // JSON-significant character in the header
            let tokens = Array("{}[]\",:0123456789-.e \\u".utf8)
            if let i = position(inHeader: true), let token = tokens.randomElement(using: &rng) { bytes[i] = token }
        case 3: // truncate
            bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
        case 4: // append junk
            bytes += (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 5: // rewrite the header length: nearby, random, or near UInt64.max
            guard bytes.count >= 8 else { return }
            let current = bytes.withUnsafeBytes { $0.loadLE(at: 0, as: UInt64.self) }
            let choices: [UInt64] = [
                current &+ UInt64.random(in: 0...16, using: &rng), current &- UInt64.random(in: 0...16, using: &rng),
                UInt64.random(in: 0...UInt64.max, using: &rng), UInt64.max &- UInt64.random(in: 0...16, using: &rng),
                UInt64(bytes.count - 8), 0,
            ]
            let value = choices[Int.random(in: 0..<choices.count, using: &rng)]
            bytes.replaceSubrange(0..<8, with: lengthPrefix(value))
        case 6: // delete a span
            guard let i = position(inHeader: true) else { return }
            bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...8, using: &rng)))
        case 7: // duplicate a span (repeats keys, digits, brackets)
            guard let i = position(inHeader: true) else { return }
            let span = Array(bytes[i..<min(bytes.count, i + Int.random(in: 1...12, using: &rng))])
            bytes.insert(contentsOf: span, at: i)
        default: // a high byte in the header, usually breaking UTF-8
            if let i = position(inHeader: true) { bytes[i] = UInt8.random(in: 0x80...0xFF, using: &rng) }
        }
    }

    /// Value readers must also stay in bounds on anything the parser accepted.
    private static func readAllValues(_ file: SafetensorsFile, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            for tensor in file.tensors {
                switch tensor.dtype {
                case .bool: _ = try? file.boolValues(tensor, in: raw)
                case .f16, .bf16, .f32, .f64: _ = try? file.doubleValues(tensor, in: raw)
                default: _ = try? file.int64Values(tensor, in: raw)
                }
            }
        }
    }
}
