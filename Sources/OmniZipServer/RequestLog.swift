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
            var members: [(String, String)] = [("ts", JSONText.string(time)), ("level", JSONText.string(level.rawValue)),
                                               ("msg", JSONText.string(message))]
            for (key, value) in entries { members.append((key, Self.json(value))) }
            return JSONText.object(members) + "\n"
        case .text:
            var line = "\(time) \(level.rawValue) \(message)"
            for (key, value) in entries { line += " \(key)=\(Self.text(value))" }
            return line + "\n"
        }
    }

    /// The request line's fields first, in reading order; anything else after, sorted.
    private static let rank: [String: Int] = Dictionary(uniqueKeysWithValues: [
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

/// The per-request line: method, path, status, bytes in/out, duration, request id.
enum RequestLog {
    static func write(_ logger: Logger, exchange: Exchange, status: Int, bytesOut: Int, duration: Duration, note: String? = nil) {
        var metadata: Logger.Metadata = [
            "method": .string(exchange.method), "path": .string(exchange.path), "status": .stringConvertible(status),
            "bytes_in": .stringConvertible(exchange.bytesIn), "bytes_out": .stringConvertible(bytesOut),
            "duration_ms": .stringConvertible((duration.milliseconds * 1e3).rounded() / 1e3),
            "request_id": .string(exchange.requestID),
        ]
        if let note { metadata["note"] = .string(note) }
        logger.info("request", metadata: metadata)
    }
}

/// Writes log lines to stdout from a thread of its own, so that a slow or stuck reader of our
/// stdout (a full pipe) never blocks the event loop. Lines wait in a bounded queue; past the
/// bound they are dropped and counted, and the count is reported once the queue drains.
/// Lines are written whole, so lines from different threads never interleave.
public final class StdoutWriter: Sendable {
    public static let shared = StdoutWriter()

    private struct State {
        var lines: [String] = []
        var bytes = 0
        var dropped = 0
        var format = ServerConfiguration.LogFormat.json
        /// The writer thread is awake (writing or about to look again): no need to signal it.
        var awake = false
    }

    private static let limit = 8 << 20
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    private init() {
        DetachedThread.start(name: "omnizip-log") { [self] in run() }
    }

    /// How the writer's own notices are written: as the log handler writes its lines.
    var format: ServerConfiguration.LogFormat {
        get { state.withLock { $0.format } }
        set { state.withLock { $0.format = newValue } }
    }

    func write(_ line: String) {
        let signal = state.withLock { state in
            guard state.bytes + line.utf8.count <= Self.limit else {
                state.dropped += 1
                return false
            }
            state.lines.append(line)
            state.bytes += line.utf8.count
            defer { state.awake = true }
            return !state.awake
        }
        // One wake-up per batch, not per line: a busy loop thread pays a lock and an append.
        if signal { wake.signal() }
    }

    /// Waits (up to `timeout` seconds) until every queued line is written.
    public func flush(timeout: Double = 2) {
        let deadline = ContinuousClock.now.advanced(by: .seconds(timeout))
        while ContinuousClock.now < deadline, state.withLock({ $0.awake }) { usleep(1000) }
    }

    private func run() {
        while true {
            wake.wait()
            while true {
                // Let a batch gather: one write and one wake-up per few ms under load, rather
                // than a context switch per request on a machine with few cores.
                usleep(2000)
                let (lines, dropped, format) = state.withLock { state in
                    defer {
                        state.lines.removeAll(keepingCapacity: true)
                        state.bytes = 0
                        state.dropped = 0
                    }
                    if state.lines.isEmpty { state.awake = false }
                    return (state.lines, state.dropped, state.format)
                }
                if lines.isEmpty { break }
                var text = lines.joined()
                if dropped > 0 {
                    text += LineLogHandler.line(format, level: .warning, message: "log lines dropped: stdout is not keeping up",
                                                metadata: ["dropped": .stringConvertible(dropped)])
                }
                Self.writeAll(text)
            }
        }
    }

    private static func writeAll(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
