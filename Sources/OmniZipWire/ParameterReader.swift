import OmniZipCore

/// Reads the pipeline parameters and token ids from string maps: the request's `__metadata__`
/// first, then overrides (query string or CLI flags), which win.
public struct RequestOptions: Sendable, Equatable {
    public var parameters: Parameters
    public var audioTokenID: Int64
    public var videoTokenID: Int64

    public static let defaultAudioTokenID: Int64 = 151_646
    public static let defaultVideoTokenID: Int64 = 151_656

    /// Names accepted as overrides; anything else there is a typo worth rejecting.
    public static let overrideNames: Set<String> = ["rho_audio", "rho_video", "contextual_ratio", "g", "video_budget",
                                                    "audio_token_id", "video_token_id"]

    public init(parameters: Parameters = .defaults, audioTokenID: Int64 = defaultAudioTokenID, videoTokenID: Int64 = defaultVideoTokenID) {
        self.parameters = parameters
        self.audioTokenID = audioTokenID
        self.videoTokenID = videoTokenID
    }

    /// Unknown metadata keys are ignored (metadata is free-form); unknown override keys are errors.
    public init(metadata: [String: String], overrides: [String: String]) throws(WireError) {
        if let unknown = overrides.keys.sorted().first(where: { !Self.overrideNames.contains($0) }) {
            throw WireError(.unknownParameter, "unknown parameter '\(unknown)'; expected one of \(Self.overrideNames.sorted().joined(separator: ", "))")
        }
        func value(_ name: String) -> (String, String)? {
            if let v = overrides[name] { return (v, "parameter '\(name)'") }
            if let v = metadata[name] { return (v, "__metadata__ '\(name)'") }
            return nil
        }
        var options = RequestOptions()
        if let (text, origin) = value("rho_audio") { options.parameters.rhoAudio = try Self.ratio(text, origin) }
        if let (text, origin) = value("rho_video") { options.parameters.rhoVideo = try Self.ratio(text, origin) }
        if let (text, origin) = value("contextual_ratio") { options.parameters.contextualRatio = try Self.ratio(text, origin) }
        if let (text, origin) = value("g") { options.parameters.g = Int(try Self.integer(text, origin, minimum: 0, maximum: 1_000_000)) }
        if let (text, origin) = value("video_budget") { options.parameters.videoBudget = try Self.videoBudget(text, origin) }
        if let (text, origin) = value("audio_token_id") { options.audioTokenID = try Self.integer(text, origin, minimum: Int64.min, maximum: Int64.max) }
        if let (text, origin) = value("video_token_id") { options.videoTokenID = try Self.integer(text, origin, minimum: Int64.min, maximum: Int64.max) }
        do {
            options.parameters = try options.parameters.validated()
        } catch {
            throw WireError.core(error)
        }
        self = options
    }

    /// A plain decimal number (Python's `float(str)` forms without inf/nan/hex), in [0, 1].
    static func ratio(_ text: String, _ origin: String) throws(WireError) -> Double {
        let trimmed = text.trimmingASCIISpaces()
        let allowed = Set("0123456789+-.eE")
        guard !trimmed.isEmpty, trimmed.allSatisfy({ allowed.contains($0) }), let value = Double(trimmed), value.isFinite else {
            throw WireError(.invalidParameter, "\(origin) must be a decimal number, got '\(text)'")
        }
        guard value >= 0, value <= 1 else {
            throw WireError(.invalidParameter, "\(origin) must be in [0, 1], got \(text)")
        }
        return value
    }

    static func videoBudget(_ text: String, _ origin: String) throws(WireError) -> VideoBudgetMode {
        guard let mode = VideoBudgetMode(rawValue: text.trimmingASCIISpaces()) else {
            let names = VideoBudgetMode.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw WireError(.invalidParameter, "\(origin) must be \(names), got '\(text)'")
        }
        return mode
    }

    static func integer(_ text: String, _ origin: String, minimum: Int64, maximum: Int64) throws(WireError) -> Int64 {
        let trimmed = text.trimmingASCIISpaces()
        guard let value = Int64(trimmed) else {
            throw WireError(.invalidParameter, "\(origin) must be an integer, got '\(text)'")
        }
        guard value >= minimum, value <= maximum else {
            throw WireError(.invalidParameter, "\(origin) must be in [\(minimum), \(maximum)], got \(value)")
        }
        return value
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
