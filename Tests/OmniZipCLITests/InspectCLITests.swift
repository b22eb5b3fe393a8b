import Foundation
import OmniZipCore
import OmniZipTestSupport
import OmniZipWire
import Testing

/// `omnizip inspect`: any safetensors file, and for requests the server's own verdict.
extension CLITests {
    func inspectJSON(_ path: String) throws -> (ChildProcess, [String: Any]) {
        let result = try run(["inspect", "--json", "--workers", "2", path])
        let object = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        return (result, try #require(object, "not JSON: \(String(decoding: result.stdout, as: UTF8.self)) \(result.stderr)"))
    }

    /// `request` with one F32 element of one tensor overwritten with a NaN.
    func poisoned(_ request: TensorBundle, _ name: String, element: Int) throws -> [UInt8] {
        var data = try request.raw(name)
        data.replaceSubrange((4 * element)..<(4 * element + 4), with: [0, 0, 0xC0, 0x7F])
        return try request.rewritten(replace: [name: (try request.tensor(name).dtype, try request.tensor(name).shape, data)])
    }

    @Test(
        "inspect reads every golden request and expectation; requests get the server's counts",
        arguments: Golden.cases)
    func inspectGolden(name: String) throws {
        let expected = try TensorBundle(Golden.expected(name))
        let (request, object) = try inspectJSON(Golden.requestURL(name).path)
        #expect(request.status == 0, "\(request.stderr)")
        #expect(object["kind"] as? String == "request")
        let requestBundle = try TensorBundle(Golden.request(name))
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["name"] as? String } == requestBundle.file.tensors.map(\.name))
        #expect(tensors.map { $0["byte_range"] as? [Int] } == requestBundle.file.tensors.map { [$0.dataRange.lowerBound, $0.dataRange.upperBound] })
        let compress = try #require(object["compress"] as? [String: Any])
        #expect(compress["status"] as? Int == 200)
        #expect(compress["kept"] as? Int == (try expected.bools("keep_mask").filter { $0 }.count))
        let layout = try #require(object["request"] as? [String: Any])
        #expect(layout["tokens"] as? Int == requestBundle.file.tensor("input_ids")?.shape.last)
        // Scores are F32 in every case: their statistics are the values'.
        let scores = try requestBundle.floats("audio_scores")
        if let stats = tensors.first(where: { $0["name"] as? String == "audio_scores" })?["stats"] as? [String: Any], let low = scores.min() {
            #expect(stats["count"] as? Int == scores.count)
            #expect((stats["min"] as? NSNumber)?.floatValue == low)
        }

        let (response, answer) = try inspectJSON(Golden.expectedURL(name).path)
        #expect(response.status == 0, "\(response.stderr)")
        #expect(answer["kind"] as? String == "compress_response")
        #expect(answer["compress"] == nil)
        let text = try run(["inspect", Golden.expectedURL(name).path])
        #expect(text.status == 0 && String(decoding: text.stdout, as: UTF8.self).contains("keep_mask"))
    }

    static let malformedFiles: [(String, [UInt8])] = {
        let truncated: [UInt8] = [16, 0, 0, 0, 0, 0, 0, 0] + Array("{\"a\":".utf8)
        let header = Array(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        let short: [UInt8] = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header + [0, 0, 0, 0] // 4 of 8 data bytes
        return [("truncated", truncated), ("empty", []), ("text", Array("hello world, this is text".utf8)), ("short-data", short)]
    }()

    @Test("inspect on a malformed file prints the server's error and exits 1", arguments: malformedFiles)
    func inspectMalformed(label: String, bytes: [UInt8]) throws {
        let path = temporary("inspect-\(label).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let serverError: WireError? = bytes.withUnsafeBytes { raw in
            do { _ = try RequestDecoder.decode(raw, requireEmbeddings: true); return nil } catch { return error as? WireError }
        }
        let error = try #require(serverError)
        let result = try run(["inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(error.code.rawValue): \(error.message)"), "\(result.stderr)")
        let (json, object) = try inspectJSON(path)
        #expect(json.status == 1)
        let reported = try #require(object["error"] as? [String: Any])
        #expect(reported["code"] as? String == error.code.rawValue && reported["message"] as? String == error.message)
    }

    @Test("inspect gives a refused request's exact 400, from the decoder or from the core")
    func inspectRefused() throws {
        let name = "public-027-s2-p20-d16"
        let bundle = try TensorBundle(Golden.request(name))
        // The first audio token's first element (text rows are never checked).
        let firstAudio = try #require(try bundle.ints("input_ids").firstIndex(of: 151_646))
        let dimension = try #require(bundle.file.tensor("inputs_embeds")?.shape.last)
        for (label, bytes) in [
            ("bad-parameter", try bundle.rewritten(metadata: bundle.metadata.merging(["rho_audio": "2"]) { $1 })),
            ("nan-embedding", try poisoned(bundle, "inputs_embeds", element: firstAudio * dimension)),
        ] {
            let path = temporary("inspect-\(label).safetensors")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            // What the server would say: the same steps as POST /v1/compress.
            let want: WireError = try bytes.withUnsafeBytes { raw in
                do {
                    let decoded = try RequestDecoder.decode(raw, requireEmbeddings: true)
                    _ = try Compressor(workers: 1).compress(try decoded.compressionInput())
                    throw TestFailure("\(label) was accepted")
                } catch let error as WireError {
                    return error
                } catch let error as OmniZipError {
                    return WireError.core(error)
                }
            }
            let (result, object) = try inspectJSON(path)
            #expect(result.status == 0, "\(result.stderr)")
            let compress = try #require(object["compress"] as? [String: Any])
            #expect(compress["status"] as? Int == 400)
            let error = try #require(compress["error"] as? [String: Any])
            #expect(error["code"] as? String == want.code.rawValue && error["message"] as? String == want.message, "\(label): \(error)")
            let text = String(decoding: try run(["inspect", path]).stdout, as: UTF8.self)
            #expect(text.contains("POST /v1/compress: 400 \(want.code.rawValue): \(want.message)"), "\(text)")
        }
    }
}
