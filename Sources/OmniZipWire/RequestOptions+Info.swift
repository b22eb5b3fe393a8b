import OmniZipCore

extension RequestOptions {
    /// `/v1/info`'s `defaults`: the parameters as the answers print them, then the token ids.
    public static var defaultsJSON: String {
        JSONText.object(
            CompressJSON.parameterMembers(.defaults)
                + [("audio_token_id", String(defaultAudioTokenID)), ("video_token_id", String(defaultVideoTokenID))])
    }

    /// The largest P a request's grid or `tokens_per_frame` may give.
    public static var maxTokensPerFrame: Int { ChunkLayout.maxTokensPerFrame }
}
