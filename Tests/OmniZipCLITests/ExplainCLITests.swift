import Foundation
import OmniZipTestSupport
import OmniZipWire
import Testing

/// `omnizip explain`: the report page from a file; errors like compress's.
extension CLITests {
    @Test(
        "explain writes the page, with one filled cell per kept video token",
        arguments: Golden.cases.prefix(4))
    func explainGolden(name: String) throws {
        let output = temporary("\(name).html")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let requestPath = Golden.requestURL(name).path
        let result = try run(["explain", requestPath, "-o", output, "--detail", "full"])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: output, encoding: .utf8)
        let cells = html.components(separatedBy: "<g class=\"kv").dropFirst()
            .reduce(0) { $0 + $1.components(separatedBy: "</g>")[0].components(separatedBy: "<rect").count - 1 }
        let expected = try TensorBundle(Golden.expected(name))
        let request = try TensorBundle(Golden.request(name))
        #expect(cells == (try RequestLayout(request).keptCounts(expected.bools("keep_mask")).video))
        #expect(html.hasPrefix("<!doctype html>") && html.contains(name))
    }

    @Test("explain refuses what compress refuses, with the same message")
    func explainErrors() throws {
        let path = temporary("explain-bad.safetensors")
        try Data("not safetensors at all".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let explain = try run(["explain", path, "-o", temporary("explain-bad.html")])
        let compress = try run(["compress", path, "-o", temporary("explain-bad.out")])
        #expect(explain.status != 0 && !explain.stderr.isEmpty)
        #expect(explain.stderr == compress.stderr)
        #expect(!FileManager.default.fileExists(atPath: temporary("explain-bad.html")))
        let badDetail = try run(["explain", path, "-o", "/tmp/x.html", "--detail", "huge"])
        #expect(badDetail.status != 0)
    }
}
