import OmniZipCore

/// Everything `omnizip serve` can be told, with the documented defaults. The command line and the
/// `OMNIZIP_*` environment both go through `resolve`, so a bad value reads the same either way.
public struct ServerConfiguration: Sendable, Equatable {
    public enum LogFormat: String, Sendable, CaseIterable {
        case json, text
    }

    public var host = "0.0.0.0"
    /// 0 picks a free port; `Server.start()` returns the one bound.
    public var port = 8080
    /// Width of the compression pool, and how many requests compress at once.
    public var workers: Int
    /// Complete compress/score/budget requests waiting for or holding a worker; a request
    /// arriving when this many are queued gets 429 from its headers.
    public var maxInflight: Int
    public var maxBodyBytes = 1 << 30
    /// Bytes of request bodies held in memory at once; a request whose Content-Length does not
    /// fit gets 429 from its headers. Default: half the memory the process may use.
    public var maxBufferedBytes = ServerConfiguration.defaultBufferedBytes()
    /// Open client connections; past it new ones are closed at once and counted.
    public var maxConnections = ServerConfiguration.defaultMaxConnections()
    /// Seconds from a request's first byte until it must be fully received.
    public var requestTimeout = 30.0
    public var logFormat = LogFormat.json

    // Not exposed as flags: knobs the tests and embedders may want.
    /// Seconds an idle keep-alive connection stays open.
    public var idleTimeout = 60.0
    /// Seconds a closing connection keeps draining the client's unread bytes after our last
    /// response, so that closing does not reset the connection under a response still in flight.
    public var lingerTimeout = 2.0
    /// Seconds an idle connection stays open after a drain began: a request already on the wire
    /// is answered (with `Connection: close`) rather than reset.
    public var drainGrace = 1.0
    /// Bytes per second a request body must average once `uploadGrace` seconds have passed since
    /// its first byte (0: no minimum). Slower clients get 408 and are closed.
    public var minUploadRate = 64 << 10
    public var uploadGrace = 5.0
    /// Install SIGINT/SIGTERM handlers on the loop (tests turn this off: signals are process-wide).
    public var handleSignals = true
    /// `/v1/score` bodies up to this size are planned on the loop thread (see ScoreEndpoint).
    public var inlineScoreBytes = 16 << 10
    /// Requests parsed ahead on one connection before reading pauses.
    public var maxPipelinedRequests = 64
    /// Reported by `/v1/info` and the startup line.
    public var version = OmniZipVersion.string

    public init(workers: Int = 1, maxInflight: Int? = nil) {
        self.workers = max(1, workers)
        self.maxInflight = maxInflight ?? 2 * max(1, workers)
    }
}

extension ServerConfiguration {
    var connectionLimits: ConnectionStateMachine<ContinuousClock>.Limits {
        .init(idleTimeout: .seconds(idleTimeout), requestTimeout: .seconds(requestTimeout), lingerTimeout: .seconds(lingerTimeout),
              drainGrace: .seconds(drainGrace), minUploadRate: minUploadRate, uploadGrace: .seconds(uploadGrace),
              maxPipelined: maxPipelinedRequests)
    }
}

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

extension ServerConfiguration {
    /// Option names (as on the command line, without dashes) and their environment variables.
    public static let environmentNames: [(option: String, variable: String)] = [
        ("host", "OMNIZIP_HOST"), ("port", "OMNIZIP_PORT"), ("workers", "OMNIZIP_WORKERS"),
        ("max-inflight", "OMNIZIP_MAX_INFLIGHT"), ("max-body-bytes", "OMNIZIP_MAX_BODY_BYTES"),
        ("request-timeout", "OMNIZIP_REQUEST_TIMEOUT"), ("log-format", "OMNIZIP_LOG_FORMAT"),
        ("max-buffered-bytes", "OMNIZIP_MAX_BUFFERED_BYTES"), ("max-connections", "OMNIZIP_MAX_CONNECTIONS"),
        ("min-upload-rate", "OMNIZIP_MIN_UPLOAD_RATE"),
    ]

    /// Flags win over the environment, which wins over defaults. `flags` maps option names
    /// ("max-inflight") to the raw text given; `environment` is the process environment.
    public static func resolve(flags: [String: String], environment: [String: String],
                               defaultWorkers: Int) throws(ConfigurationError) -> ServerConfiguration {
        func raw(_ option: String) -> (text: String, origin: String)? {
            if let text = flags[option] { return (text, "--\(option)") }
            let variable = environmentNames.first { $0.option == option }?.variable ?? ""
            if let text = environment[variable] { return (text, variable) }
            return nil
        }
        func integer(_ option: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let (text, origin) = raw(option) else { return nil }
            guard let value = Int(text.trimmingSpaces()), range.contains(value) else {
                throw ConfigurationError(description: "invalid value '\(text)' for \(origin): expected an integer in [\(range.lowerBound), \(range.upperBound)]")
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
        if let port = try integer("port", in: 0...65535) { configuration.port = port }
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

