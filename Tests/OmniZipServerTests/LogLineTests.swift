import Logging
import Testing
@testable import OmniZipServer

/// Every line, the writer's own notices included, in the format `--log-format` asks for.
@Suite("Log lines")
struct LogLineTests {
    let metadata: Logger.Metadata = ["dropped": .stringConvertible(12), "note": .string("two words")]

    @Test func textLinesAreKeyValue() {
        let line = LineLogHandler.line(.text, level: .warning, message: "log lines dropped", metadata: metadata)
        #expect(line.hasSuffix(" warning log lines dropped dropped=12 note=\"two words\"\n"))
        #expect(!line.contains("{"))
    }

    @Test func jsonLinesAreOneObject() {
        let line = LineLogHandler.line(.json, level: .warning, message: "log lines dropped", metadata: metadata)
        #expect(line.hasPrefix("{\"ts\":"))
        #expect(line.hasSuffix("\"level\":\"warning\",\"msg\":\"log lines dropped\",\"dropped\":12,\"note\":\"two words\"}\n"))
    }
}
