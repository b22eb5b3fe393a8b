import Foundation
import OmniZipCore
import OmniZipTestSupport
import Testing

/// The `omnizip` executable end to end: files in, files out, errors on stderr.
@Suite("omnizip CLI", .requires(OmniZipBinary.prerequisite))
struct CLITests {
    func run(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess.run(OmniZipBinary.url, arguments)
    }

    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("omnizip-cli-\(getpid())-\(name)").path
    }

    @Test("compress passes parity on every golden case", arguments: Golden.cases)
    func compressParity(name: String) throws {
        let output = temporary("\(name).safetensors")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let requestPath = Golden.requestURL(name).path
        let result = try run(["compress", requestPath, "-o", output, "--workers", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let response = try TensorBundle(contentsOf: URL(fileURLWithPath: output))
        #expect(try GoldenParity.mismatches(response: response, expected: TensorBundle(Golden.expected(name))) == [])
    }

    @Test(
        "score prints the plan as JSON, agreeing with the golden masks",
        arguments: Golden.cases.prefix(6))
    func score(name: String) throws {
        let requestPath = Golden.requestURL(name).path
        let result = try run(["score", requestPath])
        #expect(result.status == 0, "\(result.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let expected = try TensorBundle(Golden.expected(name))
        let keptTotal = try expected.bools("keep_mask").filter { $0 }.count
        #expect(plan["kept"] as? Int == keptTotal)
    }

    @Test("OMNIZIP_ISA picks any path this CPU runs; a higher or unknown one is refused at start-up")
    func forcedKernelPath() throws {
        let best = try #require(KernelPath.names.firstIndex(of: KernelPath.best))
        for (index, name) in KernelPath.names.enumerated() {
            let result = try ChildProcess.run(OmniZipBinary.url, ["bench", "--print-isa"], environment: ["OMNIZIP_ISA": name])
            if index <= best {
                #expect(result.status == 0, "\(name): \(result.stderr)")
                #expect(String(decoding: result.stdout, as: UTF8.self) == name + "\n")
            } else {
                #expect(result.status != 0 && result.stderr.contains("cannot run (its best is \(KernelPath.best))"), "\(name)")
            }
        }
        let unknown = try ChildProcess.run(OmniZipBinary.url, ["serve", "--port", "0"], environment: ["OMNIZIP_ISA": "avx3"])
        #expect(unknown.status != 0 && unknown.stderr.contains("OMNIZIP_ISA must be one of scalar, avx2, avx512, avx512bf16"))
    }

    @Test("--model qwen3-omni: Qwen3's defaults where no flag or field sets a value")
    func modelPreset() throws {
        // 4 chunks of 50 audio tokens and two 120-token frames each.
        let path = temporary("budget.json")
        try Data(#"{"audio_chunk_lens":[50,50,50,50],"video_chunk_lens":[240,240,240,240],"tokens_per_frame":120}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        func budget(_ flags: [String]) throws -> [String: Any] {
            let result = try run(["budget", path] + flags)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        }
        // Qwen2.5: round(0.7 * 200) + round(0.05 * 200) audio, 8 frames x int(120 * 0.4) video.
        let qwen25 = try budget([])
        #expect(qwen25["kept_audio"] as? Int == 150 && qwen25["kept_video"] as? Int == 384)
        // Qwen3: round(0.6 * 200) + 10 audio, 8 x int(120 * 0.3) video.
        let qwen3 = try budget(["--model", "qwen3-omni"])
        #expect(qwen3["kept_audio"] as? Int == 130 && qwen3["kept_video"] as? Int == 288)
        // A flag still wins over the preset.
        let mixed = try budget(["--model", "qwen3-omni", "--rho-audio", "0.3"])
        #expect(mixed["kept_audio"] as? Int == 150 && mixed["kept_video"] as? Int == 288)
        let unknown = try run(["budget", path, "--model", "qwen2-audio"])
        #expect(unknown.status != 0 && unknown.stderr.contains("'qwen2.5-omni' or 'qwen3-omni'"))
    }

    @Test("an output path in folders that do not exist yet: they are made, as README's examples assume")
    func outputFoldersAreMade() throws {
        let root = temporary("folders")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = root + "/a/b/out.safetensors"
        let result = try run(["compress", Golden.requestURL("public-027-s2-p20-d16").path, "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try TensorBundle(contentsOf: URL(fileURLWithPath: output)).names.contains("keep_mask"))
    }

    @Test("flags override the request's metadata")
    func flagsOverride() throws {
        let name = "public-027-s2-p20-d16"
        let requestPath = Golden.requestURL(name).path
        let result = try run(["score", requestPath, "--rho-audio", "0"])
        let plan = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        #expect(plan["kept_audio"] as? Int == 50) // rho_a 0 keeps every audio token
        let parameters = try #require(plan["parameters"] as? [String: Any])
        #expect(parameters["rho_audio"] as? Double == 0)
    }

    @Test(
        "bad input: a clear message on stderr, a non-zero exit, no crash",
        arguments: [
            ("truncated", [UInt8]([16, 0, 0, 0, 0, 0, 0, 0]) + Array("{\"a\":".utf8), "header"),
            ("empty", [UInt8](), "the request is empty"),
            ("not-safetensors", Array("hello world, this is text".utf8), "header"),
        ])
    func badInput(label: String, bytes: [UInt8], fragment: String) throws {
        let path = temporary("\(label).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try run(["compress", path, "-o", temporary("\(label).out")])
        #expect(result.status != 0)
        #expect(result.stderr.localizedCaseInsensitiveContains(fragment), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
        let missing = try run(["compress", "/nonexistent/request.safetensors", "-o", "/tmp/x"])
        #expect(missing.status != 0 && missing.stderr.contains("cannot open"))
        let badFlag = try run(["compress", path, "-o", "/tmp/x", "--rho-audio", "2"])
        #expect(badFlag.status != 0)
    }

    @Test(
        "--video-budget exact gives the golden-exact mask; budget prints the same totals from sizes",
        arguments: Golden.exactCases.prefix(6))
    func exactBudget(name: String) throws {
        let output = temporary("\(name).exact.safetensors")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let requestPath = Golden.requestURL(name).path
        let result = try run(["compress", requestPath, "-o", output, "--video-budget", "exact"])
        #expect(result.status == 0, "\(result.stderr)")
        let response = try TensorBundle(contentsOf: URL(fileURLWithPath: output))
        #expect(
            try GoldenParity.mismatches(
                response: response, expected: TensorBundle(Golden.expected(name)),
                exact: TensorBundle(Golden.expectedExact(name))) == [])

        // The sizes of the same request, as a budget request.
        let plan = try #require(try JSONSerialization.jsonObject(with: run(["score", requestPath]).stdout) as? [String: Any])
        let sizes = try RequestLayout(TensorBundle(Golden.request(name))).sizesJSON()
        let path = temporary("\(name).budget.json")
        try JSONSerialization.data(withJSONObject: sizes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let budget = try run(["budget", path])
        #expect(budget.status == 0, "\(budget.stderr)")
        let totals = try #require(try JSONSerialization.jsonObject(with: budget.stdout) as? [String: Any])
        #expect(totals["kept_video"] as? Int == Int(response.metadata["kept_video"]!))
        #expect(totals["kept_audio"] as? Int == plan["kept_audio"] as? Int)
        let refused = try run(["budget", path, "--video-budget", "reference"])
        #expect(refused.status != 0 && refused.stderr.contains("video_budget"))
    }
}
