import OmniZipCore

/// Reads the pipeline parameters and token ids from string maps: the request's `__metadata__`
/// first, then overrides (query string or CLI flags), which win. What neither sets comes from
/// the `model` preset (Qwen2.5-Omni when none is named).
public struct RequestOptions: Sendable, Equatable {
    public var parameters: Parameters
    public var audioTokenID: Int64
    public var videoTokenID: Int64

    public static let defaultAudioTokenID = ModelPreset.default.audioTokenID
    public static let defaultVideoTokenID = ModelPreset.default.videoTokenID

    /// Names accepted as overrides; anything else there is a typo worth rejecting.
    public static let overrideNames: Set<String> = [
        "model", "rho_audio", "rho_video", "contextual_ratio", "g", "video_budget",
        "audio_token_id", "video_token_id",
    ]

    public init(parameters: Parameters = .defaults, audioTokenID: Int64 = defaultAudioTokenID, videoTokenID: Int64 = defaultVideoTokenID) {
        self.parameters = parameters
        self.audioTokenID = audioTokenID
        self.videoTokenID = videoTokenID
    }

    /// Unknown metadata keys are ignored (metadata is free-form); unknown override keys are errors.
    /// Only the syntax is read here; `Parameters` checks the ranges.
    /// `metadataSource` names where `metadata` came from in messages: a safetensors request's
    /// `__metadata__`, or a JSON body's `field`s.
    public init(metadata: [String: String], overrides: [String: String], metadataSource: String = "__metadata__") throws(WireError) {
        if let unknown = overrides.keys.sorted().first(where: { !Self.overrideNames.contains($0) }) {
            throw WireError(
                .unknownParameter, "unknown parameter '\(unknown)'; expected one of \(Self.overrideNames.sorted().joined(separator: ", "))")
        }
        var given: [String: (text: String, origin: String)] = [:]
        for name in Self.overrideNames {
            if let v = overrides[name] {
                given[name] = (v, "parameter '\(name)'")
            } else if let v = metadata[name] {
                given[name] = (v, "\(metadataSource) '\(name)'")
            }
        }
        let preset = try given["model"].map(Self.model) ?? .default
        let d = preset.parameters
        let rhoAudio = try given["rho_audio"].map(Self.decimal) ?? d.rhoAudio
        let rhoVideo = try given["rho_video"].map(Self.decimal) ?? d.rhoVideo
        let contextualRatio = try given["contextual_ratio"].map(Self.decimal) ?? d.contextualRatio
        let g = try given["g"].map(Self.integer) ?? Int64(d.g)
        let videoBudget = try given["video_budget"].map(Self.videoBudget) ?? d.videoBudget
        audioTokenID = try given["audio_token_id"].map(Self.integer) ?? preset.audioTokenID
        videoTokenID = try given["video_token_id"].map(Self.integer) ?? preset.videoTokenID
        do throws(OmniZipError) {
            // Int64 -> Int is exact on the 64-bit platforms this builds for.
            parameters = try Parameters(
                rhoAudio: rhoAudio, rhoVideo: rhoVideo, contextualRatio: contextualRatio, g: Int(g),
                videoBudget: videoBudget)
        } catch {
            throw WireError.core(error, WireError.Wording(parameters: given))
        }
    }

    /// A plain decimal number (Python's `float(str)` forms without inf/nan/hex).
    static func decimal(_ given: (text: String, origin: String)) throws(WireError) -> Double {
        let trimmed = given.text.trimmingSpaces()
        let allowed = Set("0123456789+-.eE")
        guard !trimmed.isEmpty, trimmed.allSatisfy({ allowed.contains($0) }), let value = Double(trimmed) else {
            throw WireError(.invalidParameter, "\(given.origin) must be a decimal number, got '\(given.text)'")
        }
        return value
    }

    static func model(_ given: (text: String, origin: String)) throws(WireError) -> ModelPreset {
        guard let preset = ModelPreset(rawValue: given.text.trimmingSpaces()) else {
            let names = ModelPreset.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw WireError(.invalidParameter, "\(given.origin) must be \(names), got '\(given.text)'")
        }
        return preset
    }

    static func videoBudget(_ given: (text: String, origin: String)) throws(WireError) -> VideoBudgetMode {
        guard let mode = VideoBudgetMode(rawValue: given.text.trimmingSpaces()) else {
            let names = VideoBudgetMode.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw WireError(.invalidParameter, "\(given.origin) must be \(names), got '\(given.text)'")
        }
        return mode
    }

    static func integer(_ given: (text: String, origin: String)) throws(WireError) -> Int64 {
        guard let value = Int64(given.text.trimmingSpaces()) else {
            throw WireError(.invalidParameter, "\(given.origin) must be an integer, got '\(given.text)'")
        }
        return value
    }
}
