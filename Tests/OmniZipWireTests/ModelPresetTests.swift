import OmniZipCore
import OmniZipWire
import Testing

@Suite("model presets: a model's defaults and token ids for what a request leaves unset")
struct ModelPresetTests {
    @Test("without a model: Qwen2.5-Omni's paper defaults and ids")
    func qwen25ByDefault() throws {
        let options = try RequestOptions(metadata: [:], overrides: [:])
        #expect(options.parameters == Parameters.defaults)
        #expect((options.audioTokenID, options.videoTokenID) == (151_646, 151_656))
        #expect(try RequestOptions(metadata: ["model": "qwen2.5-omni"], overrides: [:]) == options)
    }

    @Test("qwen3-omni from metadata, the query or a JSON field: 0.4 / 0.7 / 0.05 / 3 and audio id 151675")
    func qwen3Defaults() throws {
        for (metadata, overrides) in [(["model": "qwen3-omni"], [:]), ([:], ["model": "qwen3-omni"])] as [([String: String], [String: String])] {
            let options = try RequestOptions(metadata: metadata, overrides: overrides)
            #expect(options.parameters.rhoAudio == 0.4 && options.parameters.rhoVideo == 0.7)
            #expect(options.parameters.contextualRatio == 0.05 && options.parameters.g == 3)
            #expect((options.audioTokenID, options.videoTokenID) == (151_675, 151_656))
        }
        let request = try BudgetCodecTests().decode(
            #"{"audio_chunk_lens":[26],"video_chunk_lens":[10],"tokens_per_frame":5,"model":"qwen3-omni"}"#)
        #expect(request.parameters.rhoAudio == 0.4 && request.parameters.rhoVideo == 0.7)
    }

    @Test("what the request sets wins over the preset; the query wins over metadata")
    func explicitValuesWin() throws {
        let options = try RequestOptions(
            metadata: ["model": "qwen3-omni", "rho_audio": "0.2", "audio_token_id": "7"], overrides: ["model": "qwen2.5-omni", "g": "5"])
        #expect(options.parameters.rhoAudio == 0.2 && options.parameters.rhoVideo == 0.6 && options.parameters.g == 5)
        #expect(options.audioTokenID == 7 && options.videoTokenID == 151_656)
    }

    @Test("an unknown model is a 400 naming the known ones")
    func unknownModel() {
        #expect {
            try RequestOptions(metadata: [:], overrides: ["model": "qwen2-audio"])
        } throws: { error in
            let wire = error as? WireError
            return wire?.code == .invalidParameter && wire?.message.contains("'qwen2.5-omni' or 'qwen3-omni', got 'qwen2-audio'") == true
        }
    }
}
