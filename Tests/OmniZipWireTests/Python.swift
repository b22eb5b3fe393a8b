import Foundation
import OmniZipTestSupport

/// Runs python3 scripts for the interop tests.
///
/// The interpreter is `OMNIZIP_PYTHON` when set, else `python3` on PATH. `make test-swift`
/// builds `.venv-interop` (safetensors + numpy) and sets the variable, so CI always has one.
enum Python {
    static let environmentVariable = "OMNIZIP_PYTHON"

    static let interpreter: String = {
        let named = ProcessInfo.processInfo.environment[environmentVariable] ?? ""
        return named.isEmpty ? "python3" : named
    }()

    static let prerequisite = Prerequisite(
        "\(interpreter) with the safetensors and numpy packages",
        hint: "`make test-swift` builds .venv-interop and sets \(environmentVariable) to it; "
            + "or set \(environmentVariable) to a python3 that has both",
        isMet: (try? run("import safetensors, numpy")) != nil)

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("omnizip-\(UUID().uuidString)-\(name)").path
    }

    /// Runs `script` and returns its stdout; throws with stderr if it exits non-zero.
    @discardableResult
    static func run(_ script: String, arguments: [String] = []) throws -> String {
        let result = try ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), [interpreter, "-c", script] + arguments)
        guard result.status == 0 else { throw TestFailure("\(interpreter) exited with \(result.status): \(result.stderr)") }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}
