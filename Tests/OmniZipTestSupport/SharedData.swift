import Foundation

/// `shared/`: the read-only material beside the checkout (golden vectors, spec), which the
/// package cannot carry as resources.
///
/// `OMNIZIP_SHARED_DIR` names it when set (a relocated build, a CI layout of its own); otherwise
/// it is the `shared` folder beside the package, as `shared/README.md` lays it out for
/// developers and CI. The package root comes from this file's compile-time path: SwiftPM gives a
/// test no run-time way to find its package, and the build folder can live anywhere
/// (`--scratch-path`). This is the only place a test finds anything through `#filePath`;
/// files the package ships are resources (`Bundle.module`).
public enum SharedData {
    public static let environmentVariable = "OMNIZIP_SHARED_DIR"

    public static let directory: URL = {
        if let named = ProcessInfo.processInfo.environment[environmentVariable], !named.isEmpty {
            return URL(fileURLWithPath: named, isDirectory: true).standardizedFileURL
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared", isDirectory: true)
    }()

    public static var golden: URL { directory.appendingPathComponent("golden", isDirectory: true) }
    public static var goldenExact: URL { directory.appendingPathComponent("golden-exact", isDirectory: true) }

    /// The full golden set: both folders, with at least one case.
    public static let goldenPrerequisite = Prerequisite(
        "the shared golden vectors (\(golden.path) and \(goldenExact.path))",
        hint: "put the shared/ folder beside the checkout or set \(environmentVariable); "
            + "without it only the \(Golden.fixtureCaseCount) committed cases run",
        isMet: FileManager.default.fileExists(atPath: goldenExact.path) && !Golden.caseNames(in: golden).isEmpty)

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent() // OmniZipTestSupport
        .deletingLastPathComponent() // Tests
        .deletingLastPathComponent()
}
