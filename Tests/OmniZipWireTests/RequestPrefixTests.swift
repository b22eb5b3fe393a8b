import OmniZipTestSupport
import Testing

@testable import OmniZipWire

@Suite("Request prefix: when a partial body can start compressing")
struct RequestPrefixTests {
    /// A 4-audio, 4-video interleaved request with its tensors in `order`.
    static func body(order: [String], scores: Int = 4) -> [UInt8] {
        var writer = SafetensorsWriter(metadata: [:])
        for name in order {
            switch name {
            case "input_ids":
                writer.add(name, dtype: .i64, shape: [8], elements: [Int64](repeating: 151646, count: 4) + .init(repeating: 151656, count: 4))
            case "video_grid_thw": writer.add(name, dtype: .i64, shape: [3], elements: [Int64(1), 4, 4])
            case "audio_scores": writer.add(name, dtype: .f32, shape: [scores], elements: (0..<scores).map { Float($0) })
            default: writer.add(name, dtype: .f32, shape: [8, 4], elements: (0..<32).map { Float($0) / 7 })
            }
        }
        return writer.serialized()
    }

    static let smallFirst = ["input_ids", "video_grid_thw", "audio_scores", "inputs_embeds"]

    func decode(_ body: [UInt8], received: Int) -> RequestPrefix {
        body.withUnsafeBytes { RequestPrefix.decode($0, received: received, overrides: [:]) }
    }

    @Test("it asks for the length, then the header, then the small tensors, then decodes")
    func progression() throws {
        let body = Self.body(order: Self.smallFirst)
        let headerEnd = 8 + Int(body.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let embeddingsStart = body.count - 8 * 4 * 4
        guard case .needMore(8) = decode(body, received: 3) else { Issue.record("length"); return }
        guard case .needMore(headerEnd) = decode(body, received: 8) else { Issue.record("header"); return }
        guard case .needMore(embeddingsStart) = decode(body, received: headerEnd) else { Issue.record("small tensors"); return }
        guard case let .ready(decoded) = decode(body, received: embeddingsStart) else { Issue.record("ready"); return }
        #expect(decoded.audio?.count == 4 && decoded.video?.count == 4 && decoded.scores == [0, 1, 2, 3])
        // Small tensors past the limit are left to the whole-body path.
        let smallBytes = embeddingsStart - headerEnd
        for (limit, streams) in [(smallBytes, true), (smallBytes - 1, false)] {
            let prefix = body.withUnsafeBytes { RequestPrefix.decode($0, received: embeddingsStart, overrides: [:], maxSmallTensorBytes: limit) }
            if case .ready = prefix { #expect(streams) } else { #expect(!streams) }
        }
    }

    @Test("a request refused from its prefix gets the whole-body path's error")
    func refused() throws {
        let body = Self.body(order: Self.smallFirst, scores: 3)
        let embeddingsStart = body.count - 8 * 4 * 4
        guard case let .refused(error) = decode(body, received: embeddingsStart) else {
            Issue.record("\(decode(body, received: embeddingsStart))")
            return
        }
        #expect(throws: error) { try body.withUnsafeBytes { _ = try RequestDecoder.decode($0, requireEmbeddings: true) } }
    }

    @Test("embeddings first, a header too large for the loop or a bad header: whole body only")
    func wholeBodyOnly() {
        var bodies = [Self.body(order: ["inputs_embeds"] + Self.smallFirst.dropLast())]
        var garbage = Self.body(order: Self.smallFirst)
        garbage[9] = 0xFF
        bodies.append(garbage)
        // A valid request whose header is padded past the limit (it would decode otherwise).
        let valid = Self.body(order: Self.smallFirst)
        let n = Int(valid.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let padded = (64 << 10) + 8
        var huge = withUnsafeBytes(of: UInt64(padded).littleEndian) { Array($0) }
        huge += valid[8..<(8 + n)] + [UInt8](repeating: 0x20, count: padded - n) + valid[(8 + n)...]
        bodies.append(huge)
        for body in bodies {
            guard case .wholeBodyOnly = decode(body, received: body.count) else {
                Issue.record("\(decode(body, received: body.count)) for a body of \(body.count) bytes")
                continue
            }
        }
    }
}
