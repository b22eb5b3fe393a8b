import Foundation

/// A finished child process: its exit status and everything it printed.
public struct ChildProcess {
    public let status: Int32
    public let stdout: Data
    public let stderr: String

    /// Runs `executable` to completion, collecting both streams; `environment` adds to (or
    /// replaces) this process's variables.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a chatty child cannot block on a full pipe. (stderr after
        // stdout: none of the children here fill stderr's pipe while stdout is still open.)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ChildProcess(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }
}
