import Foundation
import OmniZipTestSupport
import Testing

/// `omnizip serve`'s options as the binary shows them: the dump, the help and the errors.
@Suite("omnizip serve options", .requires(OmniZipBinary.prerequisite))
struct ServeOptionsCLITests {
    func serve(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess.run(OmniZipBinary.url, ["serve"] + arguments, environment: environment)
    }

    func dumped() throws -> [[String: Any]] {
        let result = try serve(["--dump-options"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        return try #require(json["options"] as? [[String: Any]])
    }

    @Test func theDumpListsEveryOptionWithItsVariableAndDefault() throws {
        let options = try dumped()
        #expect(options.count >= 12)
        for option in options {
            let name = try #require(option["name"] as? String)
            #expect(option["flag"] as? String == "--" + name)
            #expect((option["variable"] as? String)?.hasPrefix("OMNIZIP_") == true)
            #expect(option["default"] is String && option["help"] is String && option["reported_by_info"] is Bool)
        }
    }

    @Test func helpListsEveryOptionOfTheDump() throws {
        let result = try serve(["--help"])
        #expect(result.status == 0)
        let help = String(decoding: result.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for option in try dumped() {
            let flag = try #require(option["flag"] as? String), variable = try #require(option["variable"] as? String)
            let value = try #require(option["default"] as? String)
            #expect(help.contains(flag + " ") && help.contains("\(variable); default: \(value)"), "\(flag)")
        }
    }

    @Test(arguments: [
        (["--bogus", "1"], [String: String](), "unknown option '--bogus'"),
        (["--workers=0"], [:], "invalid value '0' for --workers: expected an integer in [1, 1024]"),
        ([], ["OMNIZIP_WORKERS": "many"], "invalid value 'many' for OMNIZIP_WORKERS: expected an integer in [1, 1024]"),
        (["--port", "none"], [:], "--port none (OMNIZIP_PORT=none) leaves nothing to listen on: give --unix-socket too"),
    ])
    func aBadOptionIsAnErrorNamingIt(arguments: [String], environment: [String: String], message: String) throws {
        let result = try serve(arguments, environment: environment)
        #expect(result.status != 0 && result.stderr.contains(message), "\(result.stderr)")
    }
}
