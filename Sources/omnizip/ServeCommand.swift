import ArgumentParser
import OmniZipCore
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
            Flags win over the environment. With --unix-socket, TCP listens too only when --host or --port \
            is given (flag or environment); --port none turns TCP off. SIGINT or SIGTERM drains (in-flight \
            requests finish, a request already on an idle connection is still answered, then exit 0); \
            a second signal exits at once with status 130.
            """
    )

    @Option(help: "Address to bind (default 0.0.0.0).")
    var host: String?
    @Option(help: "TCP port; 0 picks a free one and logs it; none: no TCP listener (default 8080).")
    var port: String?
    @Option(
        name: .customLong("unix-socket"),
        help:
            "Also listen on this Unix-domain socket path; alone (without --host/--port) instead of TCP. A stale socket file is replaced; any other file is an error."
    )
    var unixSocket: String?
    @Option(name: .customLong("unix-socket-mode"), help: "Octal permission bits of the socket file (default 0660: owner and group may connect).")
    var unixSocketMode: String?
    @Option(help: "Worker threads; the default is the cores this process may use.")
    var workers: String?
    @Option(
        name: .customLong("max-inflight"),
        help:
            "Complete requests waiting for or holding a worker; a request arriving when this many wait gets 429 from its headers (default 2 x workers)."
    )
    var maxInflight: String?
    @Option(
        name: .customLong("max-buffered-bytes"),
        help: "Bytes of request bodies held in memory at once; a Content-Length that does not fit gets 429 at once (default half the memory limit).")
    var maxBufferedBytes: String?
    @Option(
        name: .customLong("max-connections"),
        help: "Open client connections; past it new ones are closed at once and counted (default 3/4 of the descriptor limit, at most 16384).")
    var maxConnections: String?
    @Option(
        name: .customLong("min-upload-rate"),
        help: "Bytes/s a body must average after its first 5 s; slower gets 408 (default 65536; 0 turns it off).")
    var minUploadRate: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body; larger gets 413 (default 1073741824).")
    var maxBodyBytes: String?
    @Option(name: .customLong("request-timeout"), help: "Seconds to receive a whole request; slower gets 408 (default 30).")
    var requestTimeout: String?
    @Option(name: .customLong("log-format"), help: "json (one object per line) or text (default json).")
    var logFormat: String?

    func validate() throws {
        if let problem = KernelPath.requestProblem { throw ValidationError(problem) }
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
        flags["unix-socket"] = unixSocket
        flags["unix-socket-mode"] = unixSocketMode
        flags["workers"] = workers
        flags["max-inflight"] = maxInflight
        flags["max-buffered-bytes"] = maxBufferedBytes
        flags["max-connections"] = maxConnections
        flags["min-upload-rate"] = minUploadRate
        flags["max-body-bytes"] = maxBodyBytes
        flags["request-timeout"] = requestTimeout
        flags["log-format"] = logFormat
        var environment: [String: String] = [:]
        for (_, variable) in ServerConfiguration.environmentNames {
            if let value = getenv(variable) { environment[variable] = String(cString: value) }
        }
        do {
            return try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: defaultWorkerCount())
        } catch {
            throw ValidationError(error.description)
        }
    }
}
