import OmniZipTestSupport
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

@Suite("messages that point at the fix")
struct MessageWordingTests {
    @Test("a near-miss tensor name gets a 'did you mean', with the right article")
    func didYouMean() throws {
        let bundle = try TensorBundle(try Golden.request("public-027-s2-p20-d16"))
        let embeds = try #require(bundle.file.tensor("inputs_embeds"))
        let renamed = try bundle.rewritten(
            drop: ["inputs_embeds"], replace: ["input_embeds": (embeds.dtype, embeds.shape, try bundle.raw("inputs_embeds"))])
        let failure = renamed.withUnsafeBytes { body -> WireError? in
            do throws(WireError) {
                _ = try RequestDecoder.decode(body, requireEmbeddings: true)
                return nil
            } catch {
                return error
            }
        }
        #expect(
            failure?.message.contains("is not part of an interleaved request (did you mean 'inputs_embeds'?)") == true, "\(failure?.message ?? "")")
    }

    @Test("a JSON body's parameter is called a field, not __metadata__")
    func jsonFieldsAreFields() {
        let json = Array(#"{"audio_scores":[0.5],"audio_chunk_lens":[1],"video_chunk_lens":[4],"tokens_per_frame":4,"rho_audio":1.5}"#.utf8)
        let failure = json.withUnsafeBytes { body -> WireError? in
            do throws(WireError) {
                _ = try ScoreCodec.decodeJSON(body, overrides: [:])
                return nil
            } catch {
                return error
            }
        }
        #expect(failure?.message.hasPrefix("field 'rho_audio' must be in [0, 1]") == true, "\(failure?.message ?? "")")
    }
}
