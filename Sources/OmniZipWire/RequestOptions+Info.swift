import OmniZipCore

extension RequestOptions {
    /// `/v1/info`'s `defaults`: the parameters as the answers print them, then the token ids.
    public static var defaultsJSON: String { presetJSON(.default) }

    /// `/v1/info`'s `models`: what each `model` preset fills in.
    public static var modelsJSON: String {
        JSONText.object(ModelPreset.allCases.map { ($0.rawValue, presetJSON($0)) })
    }

    private static func presetJSON(_ preset: ModelPreset) -> String {
        JSONText.object(
            CompressJSON.parameterMembers(preset.parameters)
                + [("audio_token_id", String(preset.audioTokenID)), ("video_token_id", String(preset.videoTokenID))])
    }

    /// The largest P a request's grid or `tokens_per_frame` may give.
    public static var maxTokensPerFrame: Int { ChunkLayout.maxTokensPerFrame }
}
