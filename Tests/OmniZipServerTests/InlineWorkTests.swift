import OmniZipCore
import Testing

@testable import OmniZipServer

/// Which small score and budget requests are answered on the loop thread: the body's size
/// alone does not decide, since a few bytes can declare millions of tokens (issue 21, D3).
@Suite("Inline score and budget work is bounded by what the request declares")
struct InlineWorkTests {
    func job(_ json: String, _ kind: Job.Kind) throws -> Job {
        let body = try #require(ByteBuffer(copying: Array(json.utf8)))
        return Job(kind: kind, body: body, prefix: nil, overrides: [:], requestID: "t", receivedAt: .now)
    }

    static let score = Job.Kind.score(json: true, safetensorsAnswer: false)

    @Test func aSmallPlanIsAnsweredInline() async throws {
        try await offPool {
            let light = try job(
                #"{"audio_scores":[0.1,0.5,0.2,0.9],"audio_chunk_lens":[2,2],"video_chunk_lens":[8,8],"tokens_per_frame":4}"#, Self.score)
            let outcome = try #require(light.runInline(tokenLimit: 1 << 16))
            #expect(outcome.response.status == 200)
            let budget = try job(#"{"audio_chunk_lens":[50,50],"video_chunk_lens":[240,240],"tokens_per_frame":120}"#, .budget)
            #expect(budget.runInline(tokenLimit: 1 << 16)?.response.status == 200)
        }
    }

    @Test func aFewBytesDeclaringMillionsOfTokensGoToAWorker() async throws {
        try await offPool {
            // 104 bytes, 4,194,000 one-token frames: an 8 MB answer if planned here.
            let heavy = try job(#"{"audio_scores":[0.5],"audio_chunk_lens":[1],"video_chunk_lens":[4194000],"tokens_per_frame":1}"#, Self.score)
            #expect(heavy.body.count < 128)
            #expect(heavy.runInline(tokenLimit: 1 << 16) == nil, "planned on the loop thread")
            let budget = try job(#"{"audio_chunk_lens":[1],"video_chunk_lens":[4194000],"tokens_per_frame":1}"#, .budget)
            #expect(budget.runInline(tokenLimit: 1 << 16) == nil, "planned on the loop thread")
            // On a worker the same job is answered in full.
            let compressor = Compressor(workers: 1)
            #expect(heavy.run(compressor).response.status == 200)
        }
    }

    @Test func aBadRequestIsStillAnsweredInline() async throws {
        try await offPool {
            let bad = try job(#"{"audio_scores":[0.5],"audio_chunk_lens":[2]}"#, Self.score)
            #expect(bad.runInline(tokenLimit: 1 << 16)?.response.status == 400)
        }
    }
}
