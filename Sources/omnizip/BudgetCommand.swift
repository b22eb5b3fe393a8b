import ArgumentParser
import OmniZipWire

struct BudgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Print the exact-budget totals of a layout as JSON (what POST /v1/budget answers).",
        discussion: """
            The request is JSON: {"audio_chunk_lens": [...], "video_chunk_lens": [...], "tokens_per_frame": P} \
            (or "video_grid_thw": [T, H, W]) and optional parameters. No scores or embeddings: the totals \
            follow from sizes and parameters alone under video_budget=exact.
            """
    )

    @Argument(help: "The budget request (.json).")
    var request: String
    @OptionGroup var parameters: ParameterFlags

    func run() throws {
        let file = try MappedFile(path: request)
        do {
            let decoded = try BudgetCodec.decodeJSON(file.bytes, overrides: parameters.overrides)
            try writeFile(BudgetCodec.json(decoded, BudgetCodec.budget(decoded)), to: "-")
        } catch let error as WireError {
            throw CLIError("\(request): \(error.message)")
        }
    }
}
