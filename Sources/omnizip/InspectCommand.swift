import ArgumentParser
import OmniZipWire

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a safetensors file holds and, for a request, how the server would answer it.",
        discussion: """
            Any safetensors file (a request, a response, anything else): each tensor's dtype, shape, byte \
            range and min/max/mean, and the metadata. For a request, also the layout it implies (runs, \
            tokens per frame, audio and video counts, the parameters it sets) and what POST /v1/compress \
            and /v1/score would answer: the counts, or the exact 400 error. Exit status 0 when the file \
            parses (whatever the verdict; --json has it as compress.status), 1 when it is not valid \
            safetensors (the server's invalid_safetensors message on stderr).
            """
    )

    @Argument(help: "The file (.safetensors).")
    var file: String
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Option(help: "Worker threads for the trial compression; the default is the cores this process may use.")
    var workers: Int = defaultWorkerCount()

    func run() throws {
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
        let mapped = try MappedFile(path: file)
        do {
            let inspection = try FileInspection(mapped.bytes, workers: workers)
            try writeFile(Array((json ? inspection.json(path: file) : inspection.text(path: file)).utf8), to: "-")
        } catch let error as WireError {
            if json {
                let object = JSONText.object([
                    ("file", JSONText.string(file)),
                    (
                        "error",
                        JSONText.object([
                            ("code", JSONText.string(error.code.rawValue)), ("message", JSONText.string(error.message)),
                        ])
                    ),
                ])
                try writeFile(Array((object + "\n").utf8), to: "-")
            }
            throw CLIError("\(file): \(error.code.rawValue): \(error.message)")
        }
    }
}
