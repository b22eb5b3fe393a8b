import ArgumentParser
import OmniZipCore
import OmniZipWire

struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress one safetensors request into a safetensors response.",
        discussion: """
            The request holds either the interleaved prompt (inputs_embeds, input_ids, audio_scores, \
            video_grid_thw) or the split layout (audio_embeds, video_embeds, audio_scores, video_grid_thw, \
            audio_chunk_lens, video_chunk_lens). Flags override the request's __metadata__.
            """
    )

    @Argument(help: "The request (.safetensors).")
    var request: String
    @Option(name: .shortAndLong, help: "Where to write the response (.safetensors, or - for stdout).")
    var output: String
    @Option(help: "Worker threads; the default is the cores this process may use.")
    var workers: Int = defaultWorkerCount()
    @Flag(help: "Also return the compressed sequence (compressed_embeds).")
    var embeds = false
    @OptionGroup var parameters: ParameterFlags

    func run() throws {
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
        let file = try MappedFile(path: request)
        let response: [UInt8]
        do throws(WireError) {
            let decoded = try RequestDecoder.decode(file.bytes, overrides: parameters.overrides, requireEmbeddings: true)
            let compressor = Compressor(workers: workers)
            let result = try decoded.compress(with: compressor)
            response = ResponseEncoder.compress(decoded, result, includeEmbeddings: embeds).serialized()
        } catch {
            throw CLIError("\(request): \(error.message)")
        }
        try writeFile(response, to: output)
    }
}
