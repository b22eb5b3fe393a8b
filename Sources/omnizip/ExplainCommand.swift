import ArgumentParser
import OmniZipCore
import OmniZipExplain
import OmniZipWire

extension ExplainDetail: ExpressibleByArgument {}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Compress a request and draw what was kept as one self-contained HTML page (= POST /v1/explain).",
        discussion: """
            The page shows the clip as a row of chunks (audio retention, video ratio before and after \
            renormalisation, kept counts), each frame as its grid of patches (kept filled, dropped empty; \
            even frames DPC-kNN, odd frames temporal), and the audio tokens (kept by score, anchors, merged \
            tokens linked to their anchors). No scripts, nothing fetched. --detail auto draws clips of more \
            than \(ExplainDetail.compactAbove) chunks compactly: the first \(ExplainDetail.fullChunks) chunks in full, the rest as thumbnails.
            """
    )

    @Argument(help: "The request (.safetensors), as for compress.")
    var request: String
    @Option(name: .shortAndLong, help: "Where to write the page (.html, or - for stdout).")
    var output: String
    @Option(help: "auto, full or compact (default auto).")
    var detail: ExplainDetail = .auto
    @Option(help: "Worker threads; the default is the cores this process may use.")
    var workers: Int = defaultWorkerCount()
    @OptionGroup var parameters: ParameterFlags

    func run() throws {
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
        let file = try MappedFile(path: request)
        let page: String
        do throws(WireError) {
            let decoded = try RequestDecoder.decode(file.bytes, overrides: parameters.overrides, requireEmbeddings: true)
            // Traced: the page shows the values the core ranked by, from this very compression.
            let trace = CompressionTrace()
            let result = try decoded.compress(with: Compressor(workers: workers), trace: trace)
            let name = request.split(separator: "/").last.map(String.init) ?? request
            page = ExplainReport(request: decoded, result: result, trace: trace, detail: detail, source: name).html()
        } catch {
            throw CLIError("\(request): \(error.message)")
        }
        try writeFile(Array(page.utf8), to: output)
    }
}
