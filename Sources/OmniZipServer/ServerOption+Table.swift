import OmniZipWire

extension ServerOption {
    /// Every `omnizip serve` option, in the order `--help`, `--dump-options` and the README list
    /// them. Each default is written here and nowhere else.
    public static let table: [ServerOption] = [
        ServerOption(
            "host", "ADDRESS", \.host, default: .value("0.0.0.0"), parser: .host, reported: false, asksForTCP: true,
            help: "Address to bind."),
        ServerOption(
            "port", "PORT", \.listeningPort, default: .value(8080), parser: .port, reported: false, asksForTCP: true,
            help: "TCP port; 0 picks a free one and logs it; none: no TCP listener."),
        ServerOption(
            "unix-socket", "PATH", \.unixSocket, default: .value(nil), parser: .socketPath, reported: false,
            help:
                "Also listen on this Unix-domain socket path; given without a host or port (flag or environment) it replaces TCP. "
                + "A stale socket file is replaced; any other file is an error."),
        ServerOption(
            "unix-socket-mode", "MODE", \.unixSocketMode, default: .value(0o660), parser: .octalMode, reported: false,
            help: "Octal permission bits of the socket file (0660: owner and group may connect)."),
        ServerOption(
            "workers", "N", \.workers, default: .machine("the cores this process may use", { ServerConfiguration.defaultWorkers() }),
            parser: .integer(in: 1...1024), reported: true, help: "Worker threads."),
        ServerOption(
            "max-inflight", "N", \.maxInflight, default: .perWorkers("2 x workers", { 2 * $0 }), parser: .integer(in: 1...1_000_000),
            reported: true,
            help: "Complete requests waiting for or holding a worker; a request arriving when this many wait gets 429 from its headers."),
        ServerOption(
            "max-buffered-bytes", "BYTES", \.maxBufferedBytes,
            default: .machine("half the memory limit", { ServerConfiguration.defaultBufferedBytes() }), parser: .integer(in: 1...(1 << 50)),
            reported: true, help: "Bytes of request bodies held in memory at once; a Content-Length that does not fit gets 429 at once."),
        ServerOption(
            "max-connections", "N", \.maxConnections,
            default: .machine("3/4 of the descriptor limit, at most 16384", { ServerConfiguration.defaultMaxConnections() }),
            parser: .integer(in: 1...10_000_000), reported: true,
            help: "Open client connections; past it new ones are closed at once and counted."),
        ServerOption(
            "min-upload-rate", "BYTES_PER_S", \.minUploadRate, default: .value(64 << 10), parser: .integer(in: 0...(1 << 40)),
            reported: true, help: "Bytes/s a body must average after its first 5 s; slower gets 408 (0 turns it off)."),
        ServerOption(
            "max-body-bytes", "BYTES", \.maxBodyBytes, default: .value(1 << 30), parser: .integer(in: 1...(1 << 40)), reported: true,
            help: "Largest request body; larger gets 413."),
        ServerOption(
            "request-timeout", "SECONDS", \.requestTimeout, default: .value(30), parser: .seconds(upTo: 86_400), reported: true,
            help: "Seconds to receive a whole request; slower gets 408."),
        ServerOption(
            "log-format", "FORMAT", \.logFormat, default: .value(.json), parser: .logFormat,
            choices: ServerConfiguration.LogFormat.allCases.map(\.rawValue), reported: true,
            help: "json (one object per line) or text."),
    ]
}

extension ServerOption.Parser where Value == String {
    static let host = Self(
        expected: "an address or host name",
        parse: { text in
            let host = text.trimmingSpaces()
            return host.isEmpty || host.utf8.count > 255 ? nil : host
        }, text: { $0 }, json: JSONText.string)
}

extension ServerOption.Parser where Value == Int? {
    /// `none` turns TCP off (the option sets `listeningPort` to nil).
    static let port = Self(
        expected: "an integer in [0, 65535] or none",
        parse: { text in
            let word = text.trimmingSpaces().lowercased()
            if word == "none" { return .some(nil) }
            guard let port = Int(word), (0...65535).contains(port) else { return nil }
            return port
        }, text: { $0.map(String.init) ?? "none" }, json: { $0.map(String.init) ?? "null" })
}

extension ServerOption.Parser where Value == String? {
    /// Taken as given (a path may hold spaces); libuv would silently cut a path longer than
    /// `sun_path` allows and bind somewhere else.
    static let socketPath = Self(
        expected: "a socket path of 1 to \(ServerConfiguration.maxUnixSocketPathBytes) bytes",
        parse: { text in
            guard !text.isEmpty, text.utf8.count <= ServerConfiguration.maxUnixSocketPathBytes, !text.utf8.contains(0) else { return nil }
            return .some(text)
        }, text: { $0 ?? "none" }, json: { $0.map(JSONText.string) ?? "null" })
}

extension ServerOption.Parser where Value == UInt32 {
    /// Octal as chmod takes it: "660", "0660" or "0o660".
    static let octalMode = Self(
        expected: "octal permission bits in [0, 0777], e.g. 0660",
        parse: { text in
            var digits = Substring(text.trimmingSpaces().lowercased())
            if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
            guard !digits.isEmpty, digits.count <= 4, let bits = UInt32(digits, radix: 8), bits <= 0o777 else { return nil }
            return bits
        }, text: octal, json: { JSONText.string(octal($0)) })

    private static func octal(_ bits: UInt32) -> String {
        let digits = String(bits, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension ServerOption.Parser where Value == Double {
    static func seconds(upTo limit: Double) -> Self {
        Self(
            expected: "seconds in (0, \(text(limit))]",
            parse: { text in
                guard let seconds = Double(text.trimmingSpaces()), seconds.isFinite, seconds > 0, seconds <= limit else { return nil }
                return seconds
            }, text: text, json: JSONText.number)
    }

    /// Whole seconds without a fraction ("30", not "30.0"), as the documentation writes them.
    private static func text(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int(seconds)) : String(seconds)
    }
}

extension ServerOption.Parser where Value == ServerConfiguration.LogFormat {
    static let logFormat = Self(
        expected: ServerConfiguration.LogFormat.allCases.map(\.rawValue).joined(separator: " or "),
        parse: { ServerConfiguration.LogFormat(rawValue: $0.trimmingSpaces().lowercased()) },
        text: \.rawValue, json: { JSONText.string($0.rawValue) })
}
