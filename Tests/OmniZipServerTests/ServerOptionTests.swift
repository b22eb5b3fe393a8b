import Foundation
import Testing

@testable import OmniZipServer

/// The option table end to end: every option by flag and by environment, flags winning, each
/// invalid value's message, and the defaults `ServerConfiguration` takes from it.
@Suite("serve option table")
struct ServerOptionTests {
    /// Per option: two valid texts with the effective value `/v1/info` would report for each
    /// (as JSON), an invalid text, and what its error says is expected.
    struct Sample: Sendable, CustomTestStringConvertible {
        let name: String
        let first: (text: String, json: String)
        let second: (text: String, json: String)
        let bad: String
        let expected: String
        var testDescription: String { name }
    }

    static let samples: [Sample] = [
        Sample(name: "host", first: ("127.0.0.1", #""127.0.0.1""#), second: (" ::1 ", #""::1""#), bad: " ", expected: "an address or host name"),
        Sample(name: "port", first: ("9000", "9000"), second: ("0", "0"), bad: "65536", expected: "an integer in [0, 65535] or none"),
        Sample(
            name: "unix-socket", first: ("/run/a.sock", #""/run/a.sock""#), second: ("b.sock", #""b.sock""#), bad: "",
            expected: "a socket path of 1 to 107 bytes"),
        Sample(
            name: "unix-socket-mode", first: ("600", #""0600""#), second: ("0o640", #""0640""#), bad: "0888",
            expected: "octal permission bits in [0, 0777], e.g. 0660"),
        Sample(name: "workers", first: ("3", "3"), second: ("5", "5"), bad: "0", expected: "an integer in [1, 1024]"),
        Sample(name: "max-inflight", first: ("7", "7"), second: ("9", "9"), bad: "-1", expected: "an integer in [1, 1000000]"),
        Sample(
            name: "max-buffered-bytes", first: ("1000", "1000"), second: ("2000", "2000"), bad: "0",
            expected: "an integer in [1, 1125899906842624]"),
        Sample(name: "max-connections", first: ("10", "10"), second: ("20", "20"), bad: "x", expected: "an integer in [1, 10000000]"),
        Sample(name: "min-upload-rate", first: ("0", "0"), second: ("100", "100"), bad: "-5", expected: "an integer in [0, 1099511627776]"),
        Sample(name: "max-body-bytes", first: ("1000", "1000"), second: ("12345", "12345"), bad: "0", expected: "an integer in [1, 1099511627776]"),
        Sample(name: "request-timeout", first: ("2.5", "2.5"), second: ("600", "600.0"), bad: "nan", expected: "seconds in (0, 86400]"),
        Sample(name: "log-format", first: ("text", #""text""#), second: ("JSON", #""json""#), bad: "xml", expected: "json or text"),
    ]

    func effective(_ name: String, flags: [String: String] = [:], environment: [String: String] = [:]) throws -> String {
        let option = try #require(ServerOption.named(name))
        return option.json(try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: 2))
    }

    /// The error's text, or nil when `body` succeeds.
    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as ConfigurationError {
            return error.description
        } catch {
            return "not a ConfigurationError: \(error)"
        }
    }

    @Test func theSamplesCoverTheTable() {
        #expect(Self.samples.map(\.name) == ServerOption.table.map(\.name))
    }

    @Test(arguments: samples)
    func everyOptionByFlagAndByEnvironmentFlagsWinning(sample: Sample) throws {
        let option = try #require(ServerOption.named(sample.name))
        #expect(option.variable == "OMNIZIP_" + sample.name.uppercased().replacingOccurrences(of: "-", with: "_"))
        #expect(try effective(sample.name, flags: [sample.name: sample.first.text]) == sample.first.json)
        #expect(try effective(sample.name, environment: [option.variable: sample.second.text]) == sample.second.json)
        #expect(
            try effective(sample.name, flags: [sample.name: sample.first.text], environment: [option.variable: sample.second.text])
                == sample.first.json)
        // The command line's two spellings reach the same value.
        for arguments in [["--\(sample.name)", sample.first.text], ["--\(sample.name)=\(sample.first.text)"]] {
            #expect(try effective(sample.name, flags: ServerOption.flags(from: arguments)) == sample.first.json)
        }
    }

    @Test(arguments: samples)
    func anInvalidValueNamesWhereItCameFrom(sample: Sample) throws {
        let option = try #require(ServerOption.named(sample.name))
        for (flags, environment, origin) in [
            ([sample.name: sample.bad], [:], "--" + sample.name), ([:], [option.variable: sample.bad], option.variable),
        ] {
            #expect(
                message { _ = try ServerConfiguration.resolve(flags: flags, environment: environment, defaultWorkers: 1) }
                    == "invalid value '\(sample.bad)' for \(origin): expected \(sample.expected)")
        }
    }

    @Test("ServerConfiguration's defaults are the table's: each documented constant reads back as the default")
    func defaultsComeFromTheTable() throws {
        let defaults = ServerConfiguration(workers: 4)
        #expect(defaults.maxInflight == 8, "2 x workers")
        for option in ServerOption.table where option.json(defaults) != "null" {
            // Machine-dependent defaults are rules ("half the memory limit"), not values.
            guard (try? ServerConfiguration.resolve(flags: [option.name: option.defaultText], environment: [:])) != nil else { continue }
            #expect(try effective(option.name, flags: [option.name: option.defaultText]) == option.json(defaults), "\(option.name)")
        }
        #expect(ServerConfiguration(workers: 1).unixSocket == nil && ServerConfiguration(workers: 1).listensOnTCP)
    }

    @Test(arguments: [
        (["--bogus", "1"], "unknown option '--bogus'"), (["--port"], "missing value for '--port'"),
        (["--port", "--host", "x"], "missing value for '--port'"), (["8080"], "unexpected argument '8080'"),
        (["-p", "1"], "unexpected argument '-p'"), (["--max-inflight=3", "--oops=1"], "unknown option '--oops'"),
    ])
    func badCommandLinesAreRejected(arguments: [String], message: String) {
        #expect(self.message { _ = try ServerOption.flags(from: arguments) } == message)
    }

    @Test func theLastOfARepeatedOptionWins() throws {
        #expect(try ServerOption.flags(from: ["--port", "1", "--port=2", "--host", "h"]) == ["port": "2", "host": "h"])
    }

    @Test func helpListsEveryOptionWithItsVariableAndDefault() {
        let help = ServerOption.helpText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for option in ServerOption.table {
            #expect(help.contains("\(option.flag) \(option.valueName)"))
            #expect(help.contains("\(option.variable); default: \(option.defaultText)"))
        }
        #expect(ServerOption.helpText.split(separator: "\n").allSatisfy { $0.count < 80 })
    }

    @Test func theDumpIsJSONWithEveryOption() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ServerOption.dumpJSON.utf8)) as? [String: Any])
        let options = try #require(json["options"] as? [[String: Any]])
        #expect(options.map { $0["name"] as? String } == ServerOption.table.map(\.name))
        for (dumped, option) in zip(options, ServerOption.table) {
            #expect(dumped["variable"] as? String == option.variable && dumped["flag"] as? String == option.flag)
            #expect(dumped["default"] as? String == option.defaultText && dumped["help"] as? String == option.help)
            #expect(dumped["reported_by_info"] as? Bool == option.reported)
        }
        #expect(options.first { $0["name"] as? String == "log-format" }?["choices"] as? [String] == ["json", "text"])
    }

    @Test func infoReportsTheReportedOptions() throws {
        var configuration = ServerConfiguration(workers: 3)
        configuration.maxBodyBytes = 777
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(ServerOption.settingsJSON(configuration).utf8)) as? [String: Any])
        #expect(Set(json.keys) == Set(ServerOption.table.filter(\.reported).map(\.name)))
        #expect(json["workers"] as? Int == 3 && json["max-inflight"] as? Int == 6 && json["max-body-bytes"] as? Int == 777)
    }
}
