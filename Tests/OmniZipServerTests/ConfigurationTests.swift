import OmniZipServer
import Testing

@Suite("serve configuration")
struct ConfigurationTests {
    @Test func defaults() throws {
        let c = try ServerConfiguration.resolve(flags: [:], environment: [:], defaultWorkers: 6)
        #expect(c.host == "0.0.0.0" && c.port == 8080 && c.workers == 6 && c.maxInflight == 12)
        #expect(c.maxBodyBytes == 1 << 30 && c.requestTimeout == 30 && c.logFormat == .json)
    }

    @Test func flagsWinOverEnvironment() throws {
        let env = [
            "OMNIZIP_PORT": "9000", "OMNIZIP_WORKERS": "3", "OMNIZIP_LOG_FORMAT": "text", "OMNIZIP_HOST": "::1",
            "OMNIZIP_MAX_BODY_BYTES": "1000", "OMNIZIP_REQUEST_TIMEOUT": "2.5", "OMNIZIP_MAX_INFLIGHT": "7",
        ]
        let fromEnv = try ServerConfiguration.resolve(flags: [:], environment: env, defaultWorkers: 2)
        #expect(fromEnv.port == 9000 && fromEnv.workers == 3 && fromEnv.logFormat == .text && fromEnv.host == "::1")
        #expect(fromEnv.maxBodyBytes == 1000 && fromEnv.requestTimeout == 2.5 && fromEnv.maxInflight == 7)
        let flags = try ServerConfiguration.resolve(flags: ["port": "0", "workers": "4", "log-format": "json"], environment: env, defaultWorkers: 2)
        #expect(flags.port == 0 && flags.workers == 4 && flags.logFormat == .json)
        // max-inflight still from the environment; without it, twice the workers.
        #expect(flags.maxInflight == 7)
        #expect(try ServerConfiguration.resolve(flags: ["workers": "5"], environment: [:], defaultWorkers: 2).maxInflight == 10)
    }

    @Test(arguments: [
        (["port": "65536"], [String: String]()), (["port": "x"], [:]), (["workers": "0"], [:]), ([:], ["OMNIZIP_MAX_INFLIGHT": "-1"]),
        (["max-body-bytes": "0"], [:]), (["request-timeout": "0"], [:]), ([:], ["OMNIZIP_REQUEST_TIMEOUT": "nan"]),
        (["log-format": "xml"], [:]), (["host": " "], [:]),
    ])
    func badValuesAreRejected(flags: [String: String], environment: [String: String]) {
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: 2)
        }
    }

    @Test func aUnixSocketAloneReplacesTCP() throws {
        let alone = try ServerConfiguration.resolve(flags: ["unix-socket": "/run/o.sock"], environment: [:], defaultWorkers: 1)
        #expect(alone.unixSocket == "/run/o.sock" && !alone.listensOnTCP && alone.unixSocketMode == 0o660)
        let fromEnv = try ServerConfiguration.resolve(flags: [:], environment: ["OMNIZIP_UNIX_SOCKET": "o.sock"], defaultWorkers: 1)
        #expect(fromEnv.unixSocket == "o.sock" && !fromEnv.listensOnTCP)
        #expect(try ServerConfiguration.resolve(flags: [:], environment: [:], defaultWorkers: 1).listensOnTCP, "unchanged without a socket")
    }

    @Test(arguments: [
        (["unix-socket": "/s", "port": "9000"], [String: String]()), (["unix-socket": "/s", "host": "127.0.0.1"], [:]),
        (["unix-socket": "/s"], ["OMNIZIP_PORT": "8080"]), ([:], ["OMNIZIP_UNIX_SOCKET": "/s", "OMNIZIP_HOST": "0.0.0.0"]),
    ])
    func aHostOrPortKeepsTCPBesideTheSocket(flags: [String: String], environment: [String: String]) throws {
        let c = try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: 1)
        #expect(c.unixSocket == "/s" && c.listensOnTCP)
    }

    @Test func portNoneTurnsTCPOff() throws {
        let c = try ServerConfiguration.resolve(
            flags: ["port": "none"], environment: ["OMNIZIP_UNIX_SOCKET": "/s", "OMNIZIP_PORT": "8080"],
            defaultWorkers: 1)
        #expect(!c.listensOnTCP && c.unixSocket == "/s")
        #expect(throws: ConfigurationError.self, "nothing left to listen on") {
            try ServerConfiguration.resolve(flags: ["port": "none"], environment: [:], defaultWorkers: 1)
        }
    }

    @Test(arguments: [("600", 0o600), ("0640", 0o640), ("0o666", 0o666), (" 0 ", 0)] as [(String, UInt32)])
    func socketModesAreOctal(text: String, mode: UInt32) throws {
        let c = try ServerConfiguration.resolve(flags: ["unix-socket": "/s", "unix-socket-mode": text], environment: [:], defaultWorkers: 1)
        #expect(c.unixSocketMode == mode)
    }

    @Test(arguments: [
        ["unix-socket": "/s", "unix-socket-mode": "0888"], ["unix-socket": "/s", "unix-socket-mode": "1777"],
        ["unix-socket": "/s", "unix-socket-mode": "rw"], ["unix-socket": "/s", "unix-socket-mode": ""],
        ["unix-socket": ""], ["unix-socket": "/" + String(repeating: "x", count: 107)],
    ])
    func badSocketSettingsAreRejected(flags: [String: String]) {
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: flags, environment: [:], defaultWorkers: 1)
        }
    }

    @Test func errorNamesTheSource() {
        do {
            _ = try ServerConfiguration.resolve(flags: [:], environment: ["OMNIZIP_PORT": "http"], defaultWorkers: 2)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("OMNIZIP_PORT") && error.description.contains("'http'"))
        }
    }

    @Test func bindFailureIsAnError() throws {
        let first = try TestServer()
        defer { first.shutdown() }
        var c = ServerConfiguration(workers: 1)
        c.host = "127.0.0.1"
        c.port = first.port
        c.handleSignals = false
        #expect(throws: ServerError.self) { try Server(configuration: c).start() }
    }
}
