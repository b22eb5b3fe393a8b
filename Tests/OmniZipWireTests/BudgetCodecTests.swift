import Foundation
import OmniZipCore
import OmniZipWire
import Testing

@Suite("video_budget parameter and /v1/budget codec")
struct BudgetCodecTests {
    func decode(_ json: String, overrides: [String: String] = [:]) throws(WireError) -> BudgetCodec.Request {
        let bytes = Array(json.utf8)
        let result: Result<BudgetCodec.Request, WireError> = bytes.withUnsafeBytes { body in
            Result { () throws(WireError) in try BudgetCodec.decodeJSON(body, overrides: overrides) }
        }
        return try result.get()
    }

    @Test func videoBudgetIsReadFromMetadataAndOverrides() throws {
        #expect(try RequestOptions(metadata: [:], overrides: [:]).parameters.videoBudget == .reference)
        #expect(try RequestOptions(metadata: ["video_budget": "exact"], overrides: [:]).parameters.videoBudget == .exact)
        #expect(
            try RequestOptions(metadata: ["video_budget": "exact"], overrides: ["video_budget": "reference"]).parameters.videoBudget == .reference)
        #expect(throws: WireError.self) { try RequestOptions(metadata: ["video_budget": "Exact"], overrides: [:]) }
    }

    @Test func decodesSizesAndParameters() throws {
        let request = try decode(#"{"audio_chunk_lens":[3,3],"video_chunk_lens":[8,4],"tokens_per_frame":4,"rho_video":0.5,"g":"2"}"#)
        #expect(request.layout.audioRunLengths == [3, 3] && request.layout.videoRunLengths == [8, 4])
        #expect(request.layout.tokensPerFrame == 4)
        #expect(request.parameters.rhoVideo == 0.5 && request.parameters.g == 2 && request.parameters.videoBudget == .exact)
        let grid = try decode(#"{"audio_chunk_lens":[],"video_chunk_lens":[12],"video_grid_thw":[3,4,4]}"#)
        #expect(grid.layout.tokensPerFrame == 4)
    }

    @Test(
        "refusals name the field",
        arguments: [
            (#"[1,2]"#, "invalid_json"),
            (#"{}"#, "missing_field"),
            (#"{"video_chunk_lens":[8]}"#, "missing_field"),
            (#"{"audio_chunk_lens":[2],"audio_scores":[1,2]}"#, "unexpected_field"),
            (#"{"audio_chunk_lens":[-1]}"#, "invalid_value"),
            (#"{"audio_chunk_lens":[2],"video_chunk_lens":[8],"video_grid_thw":[1,4,4]}"#, "inconsistent_shapes"),
            (#"{"audio_chunk_lens":[2],"video_budget":"reference"}"#, "invalid_parameter"),
            (#"{"audio_chunk_lens":[2],"rho_video":2}"#, "invalid_parameter"),
            // A few bytes must not ask for unbounded memory, nor overflow a sum.
            (#"{"audio_chunk_lens":[2],"video_chunk_lens":[1099511627776],"tokens_per_frame":1}"#, "invalid_input"),
            (#"{"audio_chunk_lens":[1099511627776,1099511627776],"video_chunk_lens":[]}"#, "invalid_input"),
        ])
    func refusals(json: String, code: String) {
        #expect(throws: WireError.self) { try decode(json) }
        do {
            _ = try decode(json)
        } catch {
            #expect(error.code.rawValue == code, "\(error)")
        }
    }

    @Test func answerIsTheSizesOnlyBudget() throws {
        let request = try decode(#"{"audio_chunk_lens":[50,50,50,3],"video_chunk_lens":[240,240,240,100],"tokens_per_frame":120}"#)
        let json = try JSONSerialization.jsonObject(with: Data(BudgetCodec.json(request, BudgetCodec.budget(request)))) as? [String: Any]
        #expect(json?["kept_audio"] as? Int == 115)
        #expect(json?["kept_video"] as? Int == 388)
        #expect(json?["kept"] as? Int == 503)
        #expect(json?["total_video"] as? Int == 820)
    }
}
