#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import OmniZipWire
import Logging
import Synchronization

/// One line per event on stdout: a JSON object (`--log-format json`) or `key=value` text.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let format: ServerConfiguration.LogFormat
    private let sink: @Sendable (String) -> Void

    /// `sink` receives each line; the default queues it for stdout (see `StdoutWriter`).
    public init(format: ServerConfiguration.LogFormat, sink: (@Sendable (String) -> Void)? = nil) {
        self.format = format
        if let sink {
            self.sink = sink
        } else {
            StdoutWriter.shared.format = format
            self.sink = { StdoutWriter.shared.write($0) }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        sink(Self.line(format, level: event.level, message: event.message.description, metadata: all))
    }

    /// One line in `format`, ending in a newline.
    static func line(_ format: ServerConfiguration.LogFormat, level: Logger.Level, message: String, metadata all: Logger.Metadata) -> String {
        let entries = all.sorted { a, b in
            let ra = Self.rank[a.key] ?? Int.max, rb = Self.rank[b.key] ?? Int.max
            return ra != rb ? ra < rb : a.key < b.key
        }
        let time = Self.timestamp()
        switch format {
        case .json:
            var members: [(String, String)] = [
                ("ts", JSONText.string(time)), ("level", JSONText.string(level.rawValue)),
                ("msg", JSONText.string(message)),
            ]
            for (key, value) in entries { members.append((key, Self.json(value))) }
            return JSONText.object(members) + "\n"
        case .text:
            var line = "\(time) \(level.rawValue) \(message)"
            for (key, value) in entries { line += " \(key)=\(Self.text(value))" }
            return line + "\n"
        }
    }

    /// The request line's fields first, in reading order; anything else after, sorted.
    private static let rank: [String: Int] = Dictionary(
        uniqueKeysWithValues: [
            "method", "path", "status", "bytes_in", "bytes_out", "duration_ms", "request_id", "address",
        ].enumerated().map { ($1, $0) })

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case let .string(s): return JSONText.string(s)
        case let .stringConvertible(v):
            if v is Int || v is UInt64 || v is Bool { return v.description }
            if let d = v as? Double { return JSONText.number(d) }
            return JSONText.string(v.description)
        case let .array(values): return "[" + values.map(json).joined(separator: ",") + "]"
        case let .dictionary(d): return JSONText.object(d.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }

    private static func text(_ value: Logger.Metadata.Value) -> String {
        let s = value.description
        return s.contains(" ") || s.isEmpty ? JSONText.string(s) : s
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let ms = String(ts.tv_nsec / 1_000_000)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + "." + String(repeating: "0", count: 3 - ms.count) + ms + "Z"
    }
}
