import Testing
import OmniZipCore
@testable import OmniZipWire

/// A small interleaved request: [text, 4 video, 3 audio, 4 video, 3 audio], P = 2, D = 3.
struct RequestBuilder {
    var ids: [Int64] = [
        1, 151656, 151656, 151656, 151656, 151646, 151646, 151646,
        151656, 151656, 151656, 151656, 151646, 151646, 151646,
    ]
    var dimension = 3
    var embedsDType: SafetensorsDType = .f32
    var embeds: [Float]?
    var embedsRows: Int?
    var scores: [Float] = [0.1, 0.5, 0.2, 0.9, 0.3, 0.4]
    var grid: [Int64] = [4, 2, 4] // T = 4 frames of (2/2)*(4/2) = 2 tokens
    var metadata: [String: String] = [:]
    var extra: [(String, SafetensorsDType, [Int], [UInt8])] = []
    var omit: Set<String> = []

    func bytes() -> [UInt8] {
        var w = SafetensorsWriter(metadata: metadata)
        let rows = embedsRows ?? ids.count
        let values = embeds ?? (0..<(rows * dimension)).map { Float(($0 * 7) % 11) - 5 }
        if !omit.contains("inputs_embeds") {
            if embedsDType == .f32 {
                w.add("inputs_embeds", dtype: .f32, shape: [rows, dimension], elements: values)
            } else {
                w.add("inputs_embeds", dtype: embedsDType, shape: [rows, dimension], elements: values.map { UInt16($0.bitPattern >> 16) })
            }
        }
        if !omit.contains("input_ids") { w.add("input_ids", dtype: .i64, shape: [ids.count], elements: ids) }
        if !omit.contains("audio_scores") { w.add("audio_scores", dtype: .f32, shape: [scores.count], elements: scores) }
        if !omit.contains("video_grid_thw") { w.add("video_grid_thw", dtype: .i64, shape: [1, 3], elements: grid) }
        for (name, dtype, shape, data) in extra { w.add(name, dtype: dtype, shape: shape, bytes: data) }
        return w.serialized()
    }

    func decode(overrides: [String: String] = [:], requireEmbeddings: Bool = true) throws -> DecodedRequest {
        try bytes().withUnsafeBytes { try RequestDecoder.decode($0, overrides: overrides, requireEmbeddings: requireEmbeddings) }
    }
}

/// Asserts that decoding fails with `code` and a message containing `fragment`.
func expectWireError(
    _ code: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected \(code) error", sourceLocation: sourceLocation)
    } catch let error as WireError {
        #expect(error.code.rawValue == code, sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected WireError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Request decoding")
struct RequestDecoderTests {
    @Test("an interleaved request maps runs, positions and parameters")
    func interleaved() throws {
        var b = RequestBuilder()
        b.metadata = ["rho_audio": "0.5", "g": "2"]
        let r = try b.decode(overrides: ["g": "4"])
        #expect(r.layout == .interleaved)
        #expect(r.chunks.videoRunLengths == [4, 4] && r.chunks.audioRunLengths == [3, 3])
        #expect(r.chunks.tokensPerFrame == 2 && r.chunks.gridTokens == 8)
        #expect(r.audioPositions == [5, 6, 7, 12, 13, 14])
        #expect(r.options.parameters.rhoAudio == 0.5)
        #expect(r.options.parameters.g == 4) // the override wins
        #expect(r.options.parameters.rhoVideo == 0.6) // default
        #expect(r.dimension == 3 && r.hasEmbeddings)
    }

    @Test("score requests need no embeddings; compress requests do")
    func embeddingsOptionalForScore() throws {
        var b = RequestBuilder()
        b.omit = ["inputs_embeds"]
        #expect(try !b.decode(requireEmbeddings: false).hasEmbeddings)
        expectWireError("missing_tensor", "inputs_embeds") { _ = try b.decode() }
    }

    @Test("missing, extra and mistyped tensors are named")
    func tensorErrors() {
        var missing = RequestBuilder()
        missing.omit = ["audio_scores"]
        expectWireError("missing_tensor", "audio_scores") { _ = try missing.decode() }
        var extra = RequestBuilder()
        extra.extra = [("attention_mask", .i64, [1], [UInt8](repeating: 0, count: 8))]
        expectWireError("unexpected_tensor", "attention_mask") { _ = try extra.decode() }
        var i8 = RequestBuilder()
        i8.embedsDType = .i16
        expectWireError("invalid_dtype", "inputs_embeds") { _ = try i8.decode() }
    }

    @Test("inconsistent shapes are explained")
    func shapeErrors() {
        var scores = RequestBuilder()
        scores.scores = [1, 2, 3]
        expectWireError("inconsistent_shapes", "audio_scores") { _ = try scores.decode() }
        var grid = RequestBuilder()
        grid.grid = [5, 2, 4]
        expectWireError("inconsistent_shapes", "video_grid_thw") { _ = try grid.decode() }
        var rows = RequestBuilder()
        rows.embedsRows = 16 // one row more than input_ids has tokens
        expectWireError("invalid_shape", "inputs_embeds") { _ = try rows.decode() }
    }

    @Test("split embeddings that do not fit the run lengths are named by tensor")
    func splitEmbeddingShapes() {
        func split(audioRows: Int, videoRows: Int, audioD: Int = 3, videoD: Int = 3) throws -> DecodedRequest {
            var w = SafetensorsWriter()
            w.add("audio_embeds", dtype: .f32, shape: [audioRows, audioD], elements: [Float](repeating: 1, count: audioRows * audioD))
            w.add("video_embeds", dtype: .f32, shape: [videoRows, videoD], elements: [Float](repeating: 1, count: videoRows * videoD))
            w.add("audio_chunk_lens", dtype: .i64, shape: [2], elements: [Int64(3), 3])
            w.add("video_chunk_lens", dtype: .i64, shape: [2], elements: [Int64(4), 4])
            w.add("audio_scores", dtype: .f32, shape: [6], elements: [Float](repeating: 0.5, count: 6))
            w.add("video_grid_thw", dtype: .i64, shape: [1, 3], elements: [Int64(4), 2, 4])
            return try w.serialized().withUnsafeBytes { try RequestDecoder.decode($0, requireEmbeddings: true) }
        }
        #expect(throws: Never.self) { _ = try split(audioRows: 6, videoRows: 8) }
        expectWireError("invalid_shape", "tensor 'audio_embeds' has 5 rows but audio_chunk_lens sums to 6") {
            _ = try split(audioRows: 5, videoRows: 8)
        }
        expectWireError("invalid_shape", "tensor 'video_embeds' has 9 rows but video_chunk_lens sums to 8") {
            _ = try split(audioRows: 6, videoRows: 9)
        }
        expectWireError("invalid_shape", "tensor 'audio_embeds' has dimension 3 but 'video_embeds' has 4") {
            _ = try split(audioRows: 6, videoRows: 8, videoD: 4)
        }
    }

    @Test("NaN and infinite values are refused")
    func nonFinite() throws {
        var b = RequestBuilder()
        b.scores[2] = .nan
        expectWireError("invalid_value", "audio_scores") { _ = try b.decode() }
        var e = RequestBuilder()
        var values = (0..<45).map { Float($0) }
        values[3 * 3] = .infinity // a video row
        e.embeds = values
        // The decoded rows point into the body: it must outlive the compression.
        try e.bytes().withUnsafeBytes { body in
            let decoded = try RequestDecoder.decode(body, requireEmbeddings: true)
            #expect(throws: OmniZipError.self) { try Compressor(workers: 1).compress(try decoded.compressionInput()) }
        }
    }

    @Test(
        "parameters: out of range, not a number, unknown names",
        arguments: [
            (["rho_audio": "1.5"], "rho_audio"), (["rho_video": "-0.1"], "rho_video"), (["contextual_ratio": "nan"], "contextual_ratio"),
            (["g": "2.5"], "'g'"), (["g": "-1"], "'g'"), (["rho_audio": "0x1p-2"], "rho_audio"), (["audio_token_id": "x"], "audio_token_id"),
        ])
    func badParameters(overrides: [String: String], fragment: String) {
        expectWireError("invalid_parameter", fragment) { _ = try RequestBuilder().decode(overrides: overrides) }
    }

    @Test("an unknown query parameter is a typo worth rejecting; unknown metadata is ignored")
    func unknownNames() throws {
        expectWireError("unknown_parameter", "rho_adio") { _ = try RequestBuilder().decode(overrides: ["rho_adio": "0.4"]) }
        var b = RequestBuilder()
        b.metadata = ["format": "pt", "rho_video": "0.7"]
        #expect(try b.decode().options.parameters.rhoVideo == 0.7)
    }

    @Test("malformed safetensors is a clear 400, not a crash")
    func malformed() {
        expectWireError("invalid_safetensors", "too short") {
            _ = try [UInt8]([1, 2, 3]).withUnsafeBytes { try RequestDecoder.decode($0, requireEmbeddings: true) }
        }
    }
}

@Suite("Responses")
struct ResponseEncoderTests {
    @Test("a compress response carries masks, indices and counts consistent with each other")
    func compressResponse() throws {
        let b = RequestBuilder()
        let body = b.bytes()
        let bytes = try body.withUnsafeBytes { raw in
            let decoded = try RequestDecoder.decode(raw, requireEmbeddings: true)
            let result = try Compressor(workers: 1).compress(try decoded.compressionInput())
            return ResponseEncoder.compress(decoded, result, includeEmbeddings: true).serialized()
        }
        try bytes.withUnsafeBytes { raw in
            let file = try SafetensorsFile(parsing: raw)
            let mask = try file.boolValues(file.tensor("keep_mask")!, in: raw)
            let kept = try file.int64Values(file.tensor("kept_index")!, in: raw)
            #expect(mask.count == 15)
            #expect(mask[0]) // text tokens always survive
            #expect(kept == mask.indices.filter { mask[$0] }.map(Int64.init))
            #expect(file.tensor("compressed_embeds")!.shape == [kept.count, 3])
            #expect(file.metadata["kept"] == String(kept.count) && file.metadata["total"] == "15")
            // Unmerged kept rows are copied verbatim from the request.
            let compressed = try file.floatValues(file.tensor("compressed_embeds")!, in: raw)
            let source = (0..<45).map { Float(($0 * 7) % 11) - 5 }
            #expect(Array(compressed[0..<3]) == Array(source[0..<3]))
        }
    }

    @Test("BF16 narrowing rounds to nearest even")
    func bf16Rounding() {
        #expect(ElementConversion.bfloat16Bits(1.0) == 0x3F80)
        #expect(ElementConversion.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80) // tie -> even
        #expect(ElementConversion.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82) // tie -> even (up)
        #expect(ElementConversion.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(ElementConversion.bfloat16Bits(.infinity) == 0x7F80)
        #expect(Float(bitPattern: UInt32(ElementConversion.bfloat16Bits(.nan)) << 16).isNaN)
    }
}

@Suite("Score requests in JSON")
struct ScoreCodecTests {
    func decode(_ json: String, overrides: [String: String] = [:]) throws -> DecodedRequest {
        try Array(json.utf8).withUnsafeBytes { try ScoreCodec.decodeJSON($0, overrides: overrides) }
    }

    @Test("a JSON plan request gives the same plan as the safetensors one")
    func agreesWithSafetensors() throws {
        let json =
            #"{"audio_scores":[0.1,0.5,0.2,0.9,0.3,0.4],"audio_chunk_lens":[3,3],"video_chunk_lens":[4,4],"tokens_per_frame":2,"rho_video":0.6}"#
        let fromJSON = try decode(json)
        let fromTensors = try RequestBuilder().decode(requireEmbeddings: false)
        let a = try BudgetPlan(scores: fromJSON.scores, layout: fromJSON.chunks, parameters: fromJSON.options.parameters)
        let b = try BudgetPlan(scores: fromTensors.scores, layout: fromTensors.chunks, parameters: fromTensors.options.parameters)
        #expect(a == b)
        let text = String(decoding: ScoreCodec.json(fromJSON, a), as: UTF8.self)
        #expect(text.contains(#""video_chunk_kept":["#))
        #expect(text.contains(#""kept_video":\#(a.keptVideo)"#))
    }

    @Test(
        "JSON errors name the field",
        arguments: [
            (#"{"audio_scores":"x"}"#, "invalid_value", "audio_scores"), (#"{"rho_audio":0.3}"#, "missing_field", "audio_scores"),
            (#"{"audio_scores":[1],"audio_chunk_lens":[2]}"#, "inconsistent_shapes", "audio_scores"),
            (#"{"audio_scores":[],"video_chunk_lens":[4]}"#, "missing_field", "tokens_per_frame"),
            (#"{"audio_scores":[],"bogus":1}"#, "unexpected_field", "bogus"),
            (#"{"audio_scores":[],"rho_audio":2}"#, "invalid_parameter", "rho_audio"),
            ("[1,2]", "invalid_json", "object"), ("{", "invalid_json", "JSON"),
        ])
    func errors(json: String, code: String, fragment: String) {
        expectWireError(code, fragment) {
            _ = try decode(json)
        }
    }
}
