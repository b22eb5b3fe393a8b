import ArgumentParser
import OmniZipCore

@main
struct OmniZipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omnizip",
        abstract: "Audio-guided token compression (OmniZip) for omnimodal LLM prompts.",
        version: OmniZipVersion.string,
        subcommands: [
            CompressCommand.self, ScoreCommand.self, BudgetCommand.self, InspectCommand.self, ExplainCommand.self, BenchCommand.self,
            ServeCommand.self,
        ]
    )
}

/// Parameter flags shared by `compress`, `score` and `budget`; they override the request's `__metadata__`.
struct ParameterFlags: ParsableArguments {
    @Option(
        name: .customLong("model"),
        help: "qwen2.5-omni or qwen3-omni: that model's paper defaults and token ids for what is not set otherwise (default qwen2.5-omni).")
    var model: String?
    @Option(name: .customLong("rho-audio"), help: "Audio merging ratio in [0, 1] (default 0.3).")
    var rhoAudio: String?
    @Option(name: .customLong("rho-video"), help: "Video merging ratio in [0, 1] (default 0.6).")
    var rhoVideo: String?
    @Option(name: .customLong("contextual-ratio"), help: "Anchors as a fraction of audio tokens (default 0.05).")
    var contextualRatio: String?
    @Option(name: .customLong("g"), help: "Pooled tokens merged into each anchor at most (default 3).")
    var g: String?
    @Option(
        name: .customLong("video-budget"),
        help: "reference (the paper's per-frame counts) or exact (the kept video total known from sizes) (default reference).")
    var videoBudget: String?
    @Option(name: .customLong("audio-token-id"), help: "Audio placeholder id in input_ids (default 151646).")
    var audioTokenID: String?
    @Option(name: .customLong("video-token-id"), help: "Video placeholder id in input_ids (default 151656).")
    var videoTokenID: String?

    var overrides: [String: String] {
        var o: [String: String] = [:]
        o["model"] = model
        o["rho_audio"] = rhoAudio
        o["rho_video"] = rhoVideo
        o["contextual_ratio"] = contextualRatio
        o["g"] = g
        o["video_budget"] = videoBudget
        o["audio_token_id"] = audioTokenID
        o["video_token_id"] = videoTokenID
        return o
    }
}
