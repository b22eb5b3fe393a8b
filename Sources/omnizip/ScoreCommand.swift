import ArgumentParser
import OmniZipCore
import OmniZipWire

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Print the budget plan of a request as JSON (embeddings may be absent).",
        discussion: "Accepts a safetensors request, or a JSON score request when the file ends in .json."
    )

    @Argument(help: "The request (.safetensors or .json).")
    var request: String
    @OptionGroup var parameters: ParameterFlags

    func run() throws {
        let file = try MappedFile(path: request)
        do {
            let decoded =
                request.hasSuffix(".json")
                ? try ScoreCodec.decodeJSON(file.bytes, overrides: parameters.overrides)
                : try RequestDecoder.decode(file.bytes, overrides: parameters.overrides, requireEmbeddings: false)
            try writeFile(ScoreCodec.json(decoded, try decoded.budgetPlan()), to: "-")
        } catch let error as WireError {
            throw CLIError("\(request): \(error.message)")
        }
    }
}
