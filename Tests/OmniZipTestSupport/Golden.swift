import Foundation

/// The parity vectors: `NAME.request.safetensors` + `NAME.expected.safetensors` pairs, and the
/// `video_budget=exact` expectation `NAME.exact.safetensors` from the `golden-exact` folder
/// beside them.
///
/// The small cases are committed as resources of this target and always run; the full set in
/// `SharedData.golden` is added whenever it is there (a case in both is read from shared/: the
/// files are the same). Whether shared/ must be there is `SharedData.goldenPrerequisite`'s
/// business, so that a missing folder shows instead of quietly shrinking the set.
public enum Golden {
    /// A pair of folders: golden requests and expectations, and their exact-budget expectations.
    struct Source {
        let golden: URL
        let exact: URL
    }

    static let fixtures: Source = {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource of OmniZipTestSupport is missing from \(Bundle.module.bundlePath)")
        }
        return Source(golden: root.appendingPathComponent("golden"), exact: root.appendingPathComponent("golden-exact"))
    }()

    static let shared = Source(golden: SharedData.golden, exact: SharedData.goldenExact)

    /// Case name -> the source holding it; shared/ overrides the fixtures.
    static let sources: [String: Source] = {
        var found: [String: Source] = [:]
        for source in [fixtures, shared] {
            for name in caseNames(in: source.golden) { found[name] = source }
        }
        return found
    }()

    /// Every case, sorted.
    public static let cases: [String] = sources.keys.sorted()

    /// One case of each shape (`public-NNN-<shape>`), and each named case (bf16, no audio, no
    /// video, ties): what a property that does not depend on the values (JSON against
    /// safetensors, the explain page's counts) is checked on. Parity itself runs on every case,
    /// once per layer.
    public static let sample: [String] = {
        var seen = Set<String>()
        return cases.filter { name in
            let parts = name.split(separator: "-", maxSplits: 2)
            guard parts.count == 3, parts[1].allSatisfy(\.isNumber) else { return true }
            return seen.insert(String(parts[2])).inserted
        }
    }()

    /// The cases with an exact-budget expectation, sorted.
    public static let exactCases: [String] = cases.filter { FileManager.default.fileExists(atPath: exactURL($0).path) }

    /// The cases in shared/ (none when it is missing).
    public static let sharedCases: [String] = caseNames(in: shared.golden)

    static var fixtureCaseCount: Int { caseNames(in: fixtures.golden).count }

    /// Names with both a request and an expectation in `directory` (none when it is missing).
    static func caseNames(in directory: URL) -> [String] {
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        return files.filter { $0.hasSuffix(".request.safetensors") }
            .map { String($0.dropLast(".request.safetensors".count)) }
            .filter { files.contains("\($0).expected.safetensors") }
            .sorted()
    }

    static func source(_ name: String) -> Source {
        guard let source = sources[name] else { fatalError("no golden case '\(name)' (known: \(cases.count))") }
        return source
    }

    public static func requestURL(_ name: String) -> URL { source(name).golden.appendingPathComponent("\(name).request.safetensors") }
    public static func expectedURL(_ name: String) -> URL { source(name).golden.appendingPathComponent("\(name).expected.safetensors") }
    public static func exactURL(_ name: String) -> URL { source(name).exact.appendingPathComponent("\(name).exact.safetensors") }

    public static func request(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: requestURL(name))) }
    public static func expected(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: expectedURL(name))) }
    public static func expectedExact(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: exactURL(name))) }

    /// The request of the smallest case, for tests that only need a valid request.
    public static func smallest() throws -> [UInt8] {
        try request(cases.min { size($0) < size($1) }!)
    }

    /// The case with the largest request.
    public static var largest: String { cases.max { size($0) < size($1) }! }

    /// The request's size in bytes.
    public static func size(_ name: String) -> Int {
        let attributes = try? FileManager.default.attributesOfItem(atPath: requestURL(name).path)
        return (attributes?[.size] as? Int) ?? 0
    }
}
