import OmniZipWire

/// Parity with a golden expectation, exactly as `shared/golden/README.md` defines it; every
/// path (the core, the CLI, HTTP) checks its responses with this one definition:
///
/// - `keep_mask`, `merged_index`, `video_chunk_ratio` and `audio_chunk_retention` identical
///   (the ratios bit for bit);
/// - `merged_embeds` of the expectation's shape; F32 within 1e-5 absolute + 1e-5 relative;
///   BF16 equal to the BF16 rounding of the expected value, allowing 1 ulp.
///
/// Under `video_budget=exact` (`golden-exact/README.md`) the exact expectation's `keep_mask`
/// replaces the reference's, and `video_frame_kept` and the kept counts in the metadata must
/// be the exact expectation's as well.
public enum GoldenParity {
    /// What differs between a /v1/compress response and its expectation; empty means parity.
    public static func mismatches(response: TensorBundle, expected: TensorBundle, exact: TensorBundle? = nil) throws -> [String] {
        var problems: [String] = []
        if let exact {
            let frames = try response.ints("video_frame_kept"), expectedFrames = try exact.ints("video_frame_kept")
            if frames != expectedFrames { problems.append("video_frame_kept differs: \(frames) vs \(expectedFrames)") }
            for key in ["kept_audio", "kept_video", "video_budget"] where response.metadata[key] != exact.metadata[key] {
                problems.append("metadata \(key) is \(response.metadata[key] ?? "absent"), expected \(exact.metadata[key] ?? "absent")")
            }
        }
        let mask = try response.bools("keep_mask"), expectedMask = try (exact ?? expected).bools("keep_mask")
        if mask != expectedMask {
            let positions = zip(mask, expectedMask).filter { $0 != $1 }.count
            problems.append("keep_mask differs at \(positions) positions (lengths \(mask.count) and \(expectedMask.count))")
        }
        let index = try response.ints("merged_index"), expectedIndex = try expected.ints("merged_index")
        if index != expectedIndex { problems.append("merged_index differs: \(index) vs \(expectedIndex)") }
        for name in ["video_chunk_ratio", "audio_chunk_retention"] {
            let got = try response.doubles(name), want = try expected.doubles(name)
            if got.map(\.bitPattern) != want.map(\.bitPattern) { problems.append("\(name) differs: \(got) vs \(want)") }
        }
        return problems + (try embeddingMismatches(response: response, expected: expected))
    }

    static func embeddingMismatches(response: TensorBundle, expected: TensorBundle) throws -> [String] {
        let embeds = try response.tensor("merged_embeds"), expectedEmbeds = try expected.tensor("merged_embeds")
        guard embeds.shape == expectedEmbeds.shape else {
            return ["merged_embeds shape \(embeds.shape), expected \(expectedEmbeds.shape)"]
        }
        let want = try expected.floats("merged_embeds")
        if embeds.dtype == .bf16 {
            // The stored bits, not a widened float: the rule is about BF16 neighbours.
            let raw = try response.raw("merged_embeds")
            for i in want.indices {
                let got = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8, rounded = BF16.rounded(want[i])
                if !BF16.withinOneUlp(got, rounded) {
                    return [
                        "merged_embeds[\(i)] is BF16 0x\(String(got, radix: 16)), expected 0x\(String(rounded, radix: 16)) (\(want[i]) rounded) ± 1 ulp"
                    ]
                }
            }
        } else {
            let got = try response.floats("merged_embeds")
            // Written so that a NaN fails: every comparison with NaN is false.
            if let i = want.indices.first(where: { !(abs(got[$0] - want[$0]) <= 1e-5 + 1e-5 * abs(want[$0])) }) {
                return ["merged_embeds[\(i)] = \(got[i]), expected \(want[i])"]
            }
        }
        return []
    }
}
