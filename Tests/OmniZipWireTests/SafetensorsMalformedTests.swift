import Testing
@testable import OmniZipWire

/// Each malformed file must be rejected with a message that names what is wrong.
@Suite struct SafetensorsMalformedTests {
    private let f32x4 = [UInt8](repeating: 0, count: 16)

    @Test func tooShortForLengthPrefix() {
        expectRejected([], "0 bytes", "8-byte header length")
        expectRejected([1, 0, 0, 0, 0], "5 bytes")
    }

    @Test func lyingHeaderLengths() {
        expectRejected(lengthPrefix(0) + Array("{}".utf8), "header length is 0")
        expectRejected(lengthPrefix(100) + Array("{}      ".utf8), "header length 100 runs past the end", "only 8 bytes")
        expectRejected(lengthPrefix(UInt64.max) + Array("{}".utf8), "18446744073709551615", "exceeds the limit")
        expectRejected(lengthPrefix(UInt64.max - 7) + Array("{}".utf8), "exceeds the limit")
        expectRejected(lengthPrefix(UInt64(Int.max)) + Array("{}".utf8), "exceeds the limit")
        expectRejected(lengthPrefix(UInt64(Int.max)) + Array("{}".utf8), "runs past", maxHeaderBytes: Int.max)
        expectRejected(lengthPrefix(UInt64.max) + Array("{}".utf8), "exceeds the limit", maxHeaderBytes: Int.max)
        // Too short: the JSON is cut off, or the padding spills into the data section.
        expectRejected(lengthPrefix(1) + Array("{}".utf8), "not valid JSON", "end of the header")
        expectRejected(lengthPrefix(7) + Array("{}      ".utf8), "no tensors but 1 bytes follow")
    }

    @Test func headerEncoding() {
        expectRejected(lengthPrefix(8) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D, 0x20], "not valid UTF-8", "0xFF", "header offset 2")
        expectRejected(lengthPrefix(8) + [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D, 0x20], "not valid UTF-8")
        expectRejected(fileBytes(header: "\u{FEFF}{}"), "byte order mark")
        expectRejected(fileBytes(header: "[]"), "must be a JSON object")
        expectRejected(fileBytes(header: "{\"a\":"), "not valid JSON")
        expectRejected(fileBytes(header: "{}x"), "trailing data", "'x'")
        expectRejected(fileBytes(header: "{}\n"), "trailing data", "a newline")
    }

    @Test func jsonLevelProblems() {
        expectRejected(
            fileBytes(header: "{" + entry("t", "F32", [4], 0, 16) + "," + entry("t", "F32", [4], 16, 32) + "}", data: f32x4 + f32x4),
            "duplicate key 't'")
        expectRejected(fileBytes(header: String(repeating: "{\"a\":", count: 5000)), "nests deeper")
        expectRejected(
            fileBytes(header: "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"dtype\":\"F32\"}}", data: f32x4),
            "duplicate key 'dtype'")
    }

    @Test func tensorEntryShape() {
        expectRejected(fileBytes(header: #"{"t":[1,2]}"#), "tensor 't'", "must be an object", "an array")
        expectRejected(fileBytes(header: #"{"t":{"dtype":"F32","shape":[0]}}"#), "tensor 't'", "missing 'data_offsets'")
        expectRejected(fileBytes(header: #"{"t":{"shape":[0],"data_offsets":[0,0]}}"#), "tensor 't'", "missing 'dtype'")
        expectRejected(fileBytes(header: #"{"t":{"dtype":"F32","data_offsets":[0,0]}}"#), "tensor 't'", "missing 'shape'")
        expectRejected(
            fileBytes(header: #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":1}}"#), "tensor 't'", "unexpected key 'extra'")
        expectRejected(
            fileBytes(header: #"{"t":{"dtype":7,"shape":[0],"data_offsets":[0,0]}}"#), "tensor 't'", "dtype must be a string", "the integer 7")
        expectRejected(fileBytes(header: "{" + entry("t", "F8", [0], 0, 0) + "}"), "tensor 't'", "unknown dtype 'F8'")
        expectRejected(fileBytes(header: "{" + entry("t", "f32", [0], 0, 0) + "}"), "unknown dtype 'f32'")
        expectRejected(
            fileBytes(header: #"{"t":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}"#, data: f32x4), "tensor 't'", "shape must be an array")
        expectRejected(fileBytes(header: #"{"t":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}}"#, data: f32x4), "shape[0]", "a string")
        expectRejected(fileBytes(header: #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0]}}"#, data: f32x4), "exactly two integers", "holds 1")
        expectRejected(
            fileBytes(header: #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16,16]}}"#, data: f32x4), "exactly two integers", "holds 3")
        expectRejected(
            fileBytes(header: #"{"t":{"dtype":"F32","shape":[4],"data_offsets":null}}"#, data: f32x4), "data_offsets must be an array", "null")
        expectRejected(fileBytes(header: "{" + entry("t", "F32", [0], 16, 0) + "}", data: f32x4), "tensor 't'", "[16, 0] end before they begin")
    }

    @Test func nonIntegerNumbers() {
        for bad in ["1.0", "-1", "1e3", "-0", "16.5", "99999999999999999999", "true", "null"] {
            let header = #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,\#(bad)]}}"#
            expectRejected(fileBytes(header: header, data: f32x4), "tensor 't'", "data_offsets[1] must be a non-negative integer", bad)
            let shapeHeader = #"{"t":{"dtype":"F32","shape":[\#(bad)],"data_offsets":[0,16]}}"#
            expectRejected(fileBytes(header: shapeHeader, data: f32x4), "tensor 't'", "shape[0]", bad)
        }
    }

    @Test func sizeMismatches() {
        expectRejected(
            fileBytes(header: "{" + entry("audio_scores", "F32", [4], 0, 12) + "}", data: Array(f32x4.prefix(12))),
            "tensor 'audio_scores': data_offsets [0, 12] hold 12 bytes but shape [4] of F32 needs 16")
        expectRejected(fileBytes(header: "{" + entry("t", "F32", [Int.max, 2], 0, 0) + "}"), "tensor 't'", "more elements than fit")
        expectRejected(fileBytes(header: "{" + entry("t", "F32", [Int.max / 2], 0, 0) + "}"), "tensor 't'", "more bytes than fit")
        expectRejected(fileBytes(header: "{" + entry("t", "U8", [0], 0, 1) + "}", data: [0]), "hold 1 bytes", "needs 0")
    }

    @Test func tilingProblems() {
        let two = f32x4 + f32x4
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 8, 24) + "}", data: Array(two.prefix(24))),
            "tensor 'b'", "overlap tensor 'a'")
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 0, 16) + "}", data: f32x4),
            "overlap")
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 20, 36) + "}", data: two + [0, 0, 0, 0]),
            "tensor 'b'", "gap of 4 bytes", "tensor 'a'")
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 4, 20) + "}", data: [0, 0, 0, 0] + f32x4),
            "tensor 'a'", "must begin at offset 0")
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "}", data: f32x4 + [1, 2, 3]),
            "3 trailing bytes", "tensor 'a'")
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "}", data: Array(f32x4.prefix(10))),
            "tensor 'a'", "run past the end of the 10-byte data section")
        expectRejected(fileBytes(header: "{}", data: [0]), "no tensors", "1 bytes")
        expectRejected(fileBytes(header: "{\"__metadata__\":{\"a\":\"b\"}}", data: [0, 0]), "no tensors")
        // A zero-byte tensor inside another tensor's range is an overlap too.
        expectRejected(
            fileBytes(header: "{" + entry("a", "F32", [4], 0, 16) + "," + entry("z", "F32", [0], 8, 8) + "}", data: f32x4),
            "tensor 'z'", "overlap")
    }

    @Test func metadataProblems() {
        expectRejected(fileBytes(header: #"{"__metadata__":{"format":"pt","epochs":3}}"#), "'__metadata__'", "key 'epochs'", "must be a string")
        expectRejected(fileBytes(header: #"{"__metadata__":{"nested":{"a":"b"}}}"#), "key 'nested'", "an object")
        expectRejected(fileBytes(header: #"{"__metadata__":{"n":null}}"#), "key 'n'", "null")
        expectRejected(fileBytes(header: #"{"__metadata__":["a"]}"#), "'__metadata__' must be an object")
        expectRejected(fileBytes(header: #"{"__metadata__":"x"}"#), "'__metadata__' must be an object")
        expectRejected(fileBytes(header: #"{"__metadata__":{},"__metadata__":{}}"#), "duplicate key '__metadata__'")
    }

    @Test func tensorNames() {
        expectRejected(fileBytes(header: "{" + entry("", "U8", [0], 0, 0) + "}"), "empty name")
    }

    @Test func messagesQuoteHostileNamesSafely() {
        let longName = String(repeating: "n", count: 10_000)
        let message = expectRejected(fileBytes(header: "{" + entry(longName, "F8", [0], 0, 0) + "}"), "unknown dtype")
        #expect((message?.count ?? 0) < 300)
        let controlMessage = expectRejected(fileBytes(header: "{" + entry("a\\u0001\\n'b", "F8", [0], 0, 0) + "}"), "unknown dtype")
        #expect(controlMessage?.contains("'a\\u{1}\\n\\'b'") == true)
    }
}
