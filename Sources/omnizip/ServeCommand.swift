import ArgumentParser
import OmniZipCore
import OmniZipServer

#if canImport(Glibc)
    import Glibc
#endif

/// The options come from `ServerOption.table` rather than `@Option`s, which cannot be declared
/// from data: the arguments are captured and resolved through the table, and the help lists it.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OmniZip pipeline over HTTP (POST /v1/compress, /v1/score, /v1/budget, /v1/explain; see openapi.yaml).",
        usage: "omnizip serve [--OPTION VALUE | --OPTION=VALUE ...]\nomnizip serve --dump-options",
        discussion: """
            Every option may also come from its environment variable; flags win over the environment. \
            SIGINT or SIGTERM drains (in-flight requests finish, a request already on an idle connection \
            is still answered, then exit 0); a second signal exits at once with status 130.

            SERVE OPTIONS:
            \(ServerOption.helpText)
            """
    )

    @Flag(name: .customLong("dump-options"), help: "Print the options (name, variable, default, help) as JSON and exit.")
    var dumpOptions = false

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []

    func validate() throws {
        if dumpOptions { return }
        if let problem = KernelPath.requestProblem { throw ValidationError(problem) }
        _ = try resolved()
    }

    func run() throws {
        if dumpOptions {
            print(ServerOption.dumpJSON, terminator: "")
            return
        }
        do {
            try Server(configuration: try resolved()).run()
        } catch let error as ServerError {
            throw CLIError("serve: \(error.description)")
        }
    }

    private func resolved() throws -> ServerConfiguration {
        var environment: [String: String] = [:]
        for option in ServerOption.table {
            if let value = getenv(option.variable) { environment[option.variable] = String(cString: value) }
        }
        do {
            return try ServerConfiguration.resolve(flags: ServerOption.flags(from: arguments), environment: environment)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
