import OmniZipCore

/// The models omnizip knows by name. `model=` (query, `__metadata__`, a JSON body, or `--model`
/// on the CLI) fills in that model's paper defaults and placeholder token ids wherever the
/// request does not set them itself, so a caller cannot pair Qwen3-Omni with Qwen2.5's ids.
public enum ModelPreset: String, CaseIterable, Sendable {
    case qwen25Omni = "qwen2.5-omni"
    case qwen3Omni = "qwen3-omni"

    /// What a request without `model` gets.
    public static let `default` = ModelPreset.qwen25Omni

    public var parameters: Parameters {
        switch self {
        case .qwen25Omni: return .defaults
        case .qwen3Omni: return .qwen3OmniDefaults
        }
    }

    public var audioTokenID: Int64 {
        switch self {
        case .qwen25Omni: return 151_646
        case .qwen3Omni: return 151_675
        }
    }

    public var videoTokenID: Int64 { 151_656 }
}
