import Foundation

/// The `omnizip` executable the CLI tests run.
///
/// `OMNIZIP_BIN` names one when set (the release build, as the Python client's tests accept);
/// otherwise it is the one SwiftPM built into the same products folder as these tests, which
/// `swift build --build-tests` and `swift test` both build. That folder is found through this
/// target's resource bundle, which SwiftPM puts beside the products whatever the scratch path
/// (`.build`, `.build-tsan`) or configuration.
public enum OmniZipBinary {
    public static let environmentVariable = "OMNIZIP_BIN"

    public static let url: URL = {
        if let named = ProcessInfo.processInfo.environment[environmentVariable], !named.isEmpty {
            return URL(fileURLWithPath: named)
        }
        return Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("omnizip")
    }()

    public static let prerequisite = Prerequisite(
        "the omnizip executable (\(url.path))",
        hint: "`swift build` (or `swift test`, which builds it) puts it there; \(environmentVariable) names another",
        isMet: FileManager.default.isExecutableFile(atPath: url.path))
}
