#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import OmniZipCore
import OmniZipWire
import Logging

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
    private let state = Locked(State())
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
                    text += LineLogHandler.line(
                        format, level: .warning, message: "log lines dropped: stdout is not keeping up",
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
