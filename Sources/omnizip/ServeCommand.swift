import ArgumentParser
import OmniZipServer

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OmniZip pipeline over HTTP (POST /v1/compress, /v1/score, /v1/budget, /v1/explain; see openapi.yaml).",
        discussion: """
            Every option may also come from the environment: \
            \(ServerConfiguration.environmentNames.map { "--\($0.option) = \($0.variable)" }.joined(separator: ", ")). \
            Flags win over the environment. SIGINT or SIGTERM drains (in-flight requests finish, then exit 0); \
            a second signal exits at once with status 130.
            """
    )

    @Option(help: "Address to bind (default 0.0.0.0).")
    var host: String?
    @Option(help: "TCP port; 0 picks a free one and logs it (default 8080).")
    var port: String?
    @Option(help: "Worker threads (default: the number of cores).")
    var workers: String?
    @Option(name: .customLong("max-inflight"), help: "compress/score requests admitted at once; more get 429 (default 2 x workers).")
    var maxInflight: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body; larger gets 413 (default 1073741824).")
    var maxBodyBytes: String?
    @Option(name: .customLong("request-timeout"), help: "Seconds to receive a whole request; slower gets 408 (default 30).")
    var requestTimeout: String?
    @Option(name: .customLong("log-format"), help: "json (one object per line) or text (default json).")
    var logFormat: String?

    func validate() throws {
        _ = try resolved()
    }

    func run() throws {
        do {
            try Server(configuration: try resolved()).run()
        } catch let error as ServerError {
            throw CLIError("serve: \(error.description)")
        }
    }

    private func resolved() throws -> ServerConfiguration {
        var flags: [String: String] = [:]
        flags["host"] = host
        flags["port"] = port
        flags["workers"] = workers
        flags["max-inflight"] = maxInflight
        flags["max-body-bytes"] = maxBodyBytes
        flags["request-timeout"] = requestTimeout
        flags["log-format"] = logFormat
        var environment: [String: String] = [:]
        for (_, variable) in ServerConfiguration.environmentNames {
            if let value = getenv(variable) { environment[variable] = String(cString: value) }
        }
        do {
            var configuration = try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: defaultWorkerCount())
            configuration.version = OmniZipVersion.string
            return configuration
        } catch {
            throw ValidationError(error.description)
        }
    }
}
