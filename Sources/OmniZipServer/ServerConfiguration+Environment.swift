import OmniZipCore
import OmniZipWire

extension ServerConfiguration {
    /// Option names (as on the command line, without dashes) and their environment variables.
    public static let environmentNames: [(option: String, variable: String)] = [
        ("host", "OMNIZIP_HOST"), ("port", "OMNIZIP_PORT"), ("workers", "OMNIZIP_WORKERS"),
        ("max-inflight", "OMNIZIP_MAX_INFLIGHT"), ("max-body-bytes", "OMNIZIP_MAX_BODY_BYTES"),
        ("request-timeout", "OMNIZIP_REQUEST_TIMEOUT"), ("log-format", "OMNIZIP_LOG_FORMAT"),
        ("max-buffered-bytes", "OMNIZIP_MAX_BUFFERED_BYTES"), ("max-connections", "OMNIZIP_MAX_CONNECTIONS"),
        ("min-upload-rate", "OMNIZIP_MIN_UPLOAD_RATE"), ("unix-socket", "OMNIZIP_UNIX_SOCKET"),
        ("unix-socket-mode", "OMNIZIP_UNIX_SOCKET_MODE"),
    ]

    /// Flags win over the environment, which wins over defaults. `flags` maps option names
    /// ("max-inflight") to the raw text given; `environment` is the process environment.
    public static func resolve(
        flags: [String: String], environment: [String: String],
        defaultWorkers: Int
    ) throws(ConfigurationError) -> ServerConfiguration {
        func raw(_ option: String) -> (text: String, origin: String)? {
            if let text = flags[option] { return (text, "--\(option)") }
            let variable = environmentNames.first { $0.option == option }?.variable ?? ""
            if let text = environment[variable] { return (text, variable) }
            return nil
        }
        func integer(_ option: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let (text, origin) = raw(option) else { return nil }
            guard let value = Int(text.trimmingSpaces()), range.contains(value) else {
                throw ConfigurationError(
                    description: "invalid value '\(text)' for \(origin): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
            }
            return value
        }

        var configuration = ServerConfiguration(workers: max(1, defaultWorkers))
        if let (text, origin) = raw("host") {
            let host = text.trimmingSpaces()
            guard !host.isEmpty, host.utf8.count <= 255 else {
                throw ConfigurationError(description: "invalid value '\(text)' for \(origin): expected an address or host name")
            }
            configuration.host = host
        }
        if let (text, _) = raw("port"), text.trimmingSpaces().lowercased() == "none" {
            configuration.listensOnTCP = false
        } else if let port = try integer("port", in: 0...65535) {
            configuration.port = port
        }
        try resolveUnixSocket(
            into: &configuration, raw("unix-socket"), mode: raw("unix-socket-mode"),
            tcpRequested: raw("host") != nil || raw("port") != nil)
        if let workers = try integer("workers", in: 1...1024) { configuration.workers = workers }
        configuration.maxInflight = try integer("max-inflight", in: 1...1_000_000) ?? 2 * configuration.workers
        if let bytes = try integer("max-body-bytes", in: 1...(1 << 40)) { configuration.maxBodyBytes = bytes }
        if let bytes = try integer("max-buffered-bytes", in: 1...(1 << 50)) { configuration.maxBufferedBytes = bytes }
        if let count = try integer("max-connections", in: 1...10_000_000) { configuration.maxConnections = count }
        if let rate = try integer("min-upload-rate", in: 0...(1 << 40)) { configuration.minUploadRate = rate }
        if let (text, origin) = raw("request-timeout") {
            guard let seconds = Double(text.trimmingSpaces()), seconds.isFinite, seconds > 0, seconds <= 86_400 else {
                throw ConfigurationError(description: "invalid value '\(text)' for \(origin): expected seconds in (0, 86400]")
            }
            configuration.requestTimeout = seconds
        }
        if let (text, origin) = raw("log-format") {
            guard let format = LogFormat(rawValue: text.trimmingSpaces().lowercased()) else {
                throw ConfigurationError(description: "invalid value '\(text)' for \(origin): expected json or text")
            }
            configuration.logFormat = format
        }
        return configuration
    }
}
