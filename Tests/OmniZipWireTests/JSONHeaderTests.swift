import OmniZipTestSupport
import Testing
@testable import OmniZipWire

private func json(_ text: String) -> Result<HeaderJSON, SafetensorsError> {
    json(Array(text.utf8))
}

private func json(_ bytes: [UInt8]) -> Result<HeaderJSON, SafetensorsError> {
    bytes.withUnsafeBytes { raw in
        Result { () throws(SafetensorsError) in try HeaderJSONParser.parseValue(raw) }
    }
}

private func header(_ text: String) -> Result<[HeaderJSONMember], SafetensorsError> {
    Array(text.utf8).withUnsafeBytes { raw in
        Result { () throws(SafetensorsError) in try HeaderJSONParser.parseHeader(raw) }
    }
}

private func errorMessage<T>(_ result: Result<T, SafetensorsError>) -> String {
    if case .failure(let error) = result { return error.message }
    return "<parsed>"
}

@Suite struct JSONHeaderTests {
    @Test func parsesNestedStructure() throws {
        let value = try json(#" { "a" : [1, "x", true, false, null, {"b": []}] , "c": {} } "#).get()
        let expected: HeaderJSON = .object([
            HeaderJSONMember(
                key: "a",
                value: .array([
                    .nonNegativeInteger(1), .string("x"), .bool(true), .bool(false), .null,
                    .object([HeaderJSONMember(key: "b", value: .array([]))]),
                ])),
            HeaderJSONMember(key: "c", value: .object([])),
        ])
        #expect(value == expected)
    }

    @Test func keepsMemberOrder() throws {
        guard case .object(let members) = try json(#"{"z":1,"a":2,"m":3}"#).get() else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "m"])
    }

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u4E2D""#, "Aé中"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD834\uDD1E x""#, "𝄞 x"),
        (#""\u0000""#, "\u{0}"),
        (#""plain é 中 😀""#, "plain é 中 😀"),
        (#""mixed \n after raw é""#, "mixed \n after raw é"),
    ])
    func decodesStrings(source: String, expected: String) throws {
        #expect(try json(source).get() == .string(expected))
    }

    @Test(arguments: [
        (#""\ud83d""#, "high surrogate"),
        (#""\ud83d\u0041""#, "not a low surrogate"),
        (#""\ude00""#, "lone low surrogate"),
        (#""\u12G4""#, "four hex digits"),
        (#""\u12""#, "four hex digits"),
        (#""\x""#, "invalid escape"),
        ("\"a\u{1}b\"", "control character"),
        ("\"tab\there\"", "control character"),
        (#""unterminated"#, "not terminated"),
        (#""ends in escape\"#, "cut off"),
    ])
    func rejectsBadStrings(source: String, fragment: String) {
        let message = errorMessage(json(source))
        #expect(message.contains(fragment), "\(message)")
    }

    @Test func classifiesNumbers() throws {
        #expect(try json("0").get() == .nonNegativeInteger(0))
        #expect(try json("9223372036854775807").get() == .nonNegativeInteger(Int.max))
        #expect(try json("9223372036854775808").get() == .otherNumber("9223372036854775808"))
        #expect(try json("-1").get() == .otherNumber("-1"))
        #expect(try json("-0").get() == .otherNumber("-0"))
        #expect(try json("1.0").get() == .otherNumber("1.0"))
        #expect(try json("1e3").get() == .otherNumber("1e3"))
        #expect(try json("2.5E-7").get() == .otherNumber("2.5E-7"))
        #expect(try json(String(repeating: "9", count: 400)).get() == .otherNumber(String(repeating: "9", count: 400)))
    }

    @Test(arguments: ["01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "--1"])
    func rejectsMalformedNumbers(source: String) {
        #expect(throws: SafetensorsError.self) { try json(source).get() }
    }

    @Test(arguments: ["tru", "nul", "falsy", "True", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "[1 2]", "", "   ", "{", "[", "{\"a\":}"])
    func rejectsSyntaxErrors(source: String) {
        let message = errorMessage(json(source))
        #expect(message.contains("not valid JSON"), "\(message)")
    }

    @Test func rejectsDuplicateKeysAtAnyDepth() {
        #expect(errorMessage(json(#"{"a":1,"a":2}"#)).contains("duplicate key 'a'"))
        #expect(errorMessage(json(#"{"x":{"k":1,"k":1}}"#)).contains("duplicate key 'k'"))
        // Escapes are decoded before comparing, so "\u0061" duplicates "a".
        #expect(errorMessage(json(#"{"a":1,"\u0061":2}"#)).contains("duplicate key 'a'"))
    }

    @Test func boundsNestingDepth() throws {
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try json(fine).get()
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(errorMessage(json(deep)).contains("nests deeper than 64"))
        // Far deeper than any stack could take if recursion were unbounded.
        let hostile = String(repeating: #"{"a":"#, count: 200_000)
        #expect(errorMessage(json(hostile)).contains("nests deeper"))
    }

    @Test func headerAllowsOnlySpacePadding() throws {
        #expect(try header(#"{"a":"b"}     "#).get().count == 1)
        #expect(errorMessage(header("{}\n")).contains("trailing data"))
        #expect(errorMessage(header("{}\t")).contains("trailing data"))
        #expect(errorMessage(header("{} {}")).contains("trailing data"))
        #expect(errorMessage(header("{}\0")).contains("only ASCII spaces"))
    }

    @Test func headerMustStartWithBrace() {
        #expect(errorMessage(header(" {}")).contains("starts with a space"))
        #expect(errorMessage(header("[]")).contains("must be a JSON object"))
        #expect(errorMessage(header("\u{FEFF}{}")).contains("byte order mark"))
        #expect(errorMessage(header("\"x\"")).contains("must be a JSON object"))
    }

    @Test func utf8Validator() {
        func check(_ bytes: [UInt8]) -> Int? {
            bytes.withUnsafeBytes { UTF8Validation.firstInvalidOffset(in: $0) }
        }
        #expect(check(Array("aé中😀".utf8)) == nil)
        #expect(check([0x61, 0xFF]) == 1)
        #expect(check([0xC0, 0x80]) == 0) // overlong NUL
        #expect(check([0xE0, 0x80, 0x80]) == 0) // overlong 3-byte
        #expect(check([0xED, 0xA0, 0x80]) == 0) // UTF-16 surrogate D800
        #expect(check([0xF4, 0x90, 0x80, 0x80]) == 0) // above U+10FFFF
        #expect(check([0x61, 0xE4, 0xB8]) == 1) // cut-off sequence
        #expect(check([0x80]) == 0) // stray continuation
        #expect(check([0xF0, 0x9F, 0x98, 0x41]) == 0) // bad continuation
        // Agree with the standard library on every 2-byte input and a sample of 3- and 4-byte ones.
        var disagreements: [[UInt8]] = []
        for a in 0...255 {
            for b in 0...255 {
                let bytes = [UInt8(a), UInt8(b)]
                if (check(bytes) == nil) != (String(validating: bytes, as: UTF8.self) != nil) { disagreements.append(bytes) }
            }
        }
        var rng = SeededRandom(7)
        for _ in 0..<50_000 {
            let bytes = (0..<Int.random(in: 3...4, using: &rng)).map { _ in UInt8.random(in: 0x80...0xFF, using: &rng) }
            if (check(bytes) == nil) != (String(validating: bytes, as: UTF8.self) != nil) { disagreements.append(bytes) }
        }
        #expect(disagreements.isEmpty)
    }
}
