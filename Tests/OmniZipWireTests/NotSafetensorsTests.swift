import OmniZipWire
import Testing

/// Bodies that are not safetensors, as people send them by mistake: the error names what the
/// body is and what to send instead, not a header length read from its first eight bytes.
@Suite("bodies that are not safetensors")
struct NotSafetensorsTests {
    func error(_ bytes: [UInt8]) -> WireError? {
        bytes.withUnsafeBytes { body in
            do throws(WireError) {
                _ = try RequestDecoder.decode(body, requireEmbeddings: true)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test(
        "each mistake is named, with what to send instead",
        arguments: [
            ("JSON", Array(#"  {"input_ids": [1, 2, 3]}"#.utf8), "the body is JSON"),
            ("JSON array", Array("[1, 2]".utf8), "/v1/score"),
            ("torch.save zip", Array("PK\u{3}\u{4}".utf8) + [UInt8](repeating: 7, count: 64), "zip archive (what torch.save writes)"),
            ("pickle", [0x80, 0x02] + [UInt8](repeating: 7, count: 64), "Python pickle"),
            ("numpy .npy", [0x93] + Array("NUMPY\u{1}\u{0}v\u{0}{'descr': '<f4'}".utf8), "numpy .npy array"),
            ("multipart form", Array("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".utf8), "curl --data-binary"),
            ("empty", [], "the request is empty (0 bytes)"),
        ] as [(String, [UInt8], String)])
    func named(label: String, bytes: [UInt8], fragment: String) {
        let failure = error(bytes)
        #expect(failure?.code == .invalidSafetensors, "\(label)")
        #expect(failure?.message.contains(fragment) == true, "\(label): \(failure?.message ?? "no error")")
    }

    @Test("a broken safetensors file keeps the parser's own message")
    func brokenSafetensors() {
        let failure = error([16, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"a":"#.utf8))
        #expect(failure?.code == .invalidSafetensors && failure?.message.contains("header length 16") == true, "\(failure?.message ?? "")")
    }
}
