import OmniZipCore

/// Everything `omnizip serve` can be told. The settings that are options take their defaults
/// from `ServerOption.table` (the one place a default is written); the command line and the
/// `OMNIZIP_*` environment both go through `resolve`, so a bad value reads the same either way.
public struct ServerConfiguration: Sendable, Equatable {
    public enum LogFormat: String, Sendable, CaseIterable {
        case json, text
    }

    public var host: String = ServerOption.defaultValue(\.host)
    /// 0 picks a free port; `Server.start()` returns the one bound.
    public var port: Int
    /// False only when a Unix socket is to be the sole listener (see `resolve`).
    public var listensOnTCP: Bool
    /// A Unix-domain socket path to listen on as well as (or instead of) TCP.
    public var unixSocket: String? = ServerOption.defaultValue(\.unixSocket)
    /// Permission bits of the socket file. Connecting needs write permission on it, so 0660
    /// admits the owner and the group (in Kubernetes, the pod's fsGroup) and nobody else.
    public var unixSocketMode: UInt32 = ServerOption.defaultValue(\.unixSocketMode)
    /// Width of the compression pool, and how many requests compress at once.
    public var workers: Int
    /// Complete compress/score/budget requests waiting for or holding a worker; a request
    /// arriving when this many are queued gets 429 from its headers.
    public var maxInflight: Int
    public var maxBodyBytes: Int = ServerOption.defaultValue(\.maxBodyBytes)
    /// Bytes of request bodies held in memory at once; a request whose Content-Length does not
    /// fit gets 429 from its headers.
    public var maxBufferedBytes: Int = ServerOption.defaultValue(\.maxBufferedBytes)
    /// Open client connections; past it new ones are closed at once and counted.
    public var maxConnections: Int = ServerOption.defaultValue(\.maxConnections)
    /// Seconds from a request's first byte until it must be fully received.
    public var requestTimeout: Double = ServerOption.defaultValue(\.requestTimeout)
    public var logFormat: LogFormat = ServerOption.defaultValue(\.logFormat)
    /// Bytes per second a request body must average once `uploadGrace` seconds have passed since
    /// its first byte (0: no minimum). Slower clients get 408 and are closed.
    public var minUploadRate: Int = ServerOption.defaultValue(\.minUploadRate)

    // Not exposed as flags: knobs the tests and embedders may want.
    /// Seconds an idle keep-alive connection stays open.
    public var idleTimeout = 60.0
    /// Seconds a new connection may stay silent before its first request begins.
    public var firstByteTimeout = 10.0
    /// Seconds a closing connection keeps draining the client's unread bytes after our last
    /// response, so that closing does not reset the connection under a response still in flight.
    public var lingerTimeout = 2.0
    /// Seconds an idle connection stays open after a drain began: a request already on the wire
    /// is answered (with `Connection: close`) rather than reset.
    public var drainGrace = 1.0
    public var uploadGrace = 5.0
    /// Install SIGINT/SIGTERM handlers on the loop (tests turn this off: signals are process-wide).
    public var handleSignals = true
    /// `/v1/score` and `/v1/budget` bodies up to this size, declaring at most
    /// `inlineScoreTokens` audio and video tokens, are answered on the loop thread (see
    /// ScoreEndpoint); the rest go to a worker.
    public var inlineScoreBytes = 16 << 10
    public var inlineScoreTokens = 1 << 16
    /// Bytes of compression scratch lent out at once (all workers); a compression that cannot
    /// get its scratch is answered 503 (`Compressor(scratchLimit:)`). Unlimited by default.
    public var scratchLimitBytes = Int.max
    /// Requests parsed ahead on one connection before reading pauses.
    public var maxPipelinedRequests = 64
    /// Reported by `/v1/info` and the startup line.
    public var version = OmniZipVersion.string

    /// The table's defaults; `workers` and `maxInflight` may be given (tests and embedders pin
    /// the worker count rather than follow the machine).
    public init(workers: Int? = nil, maxInflight: Int? = nil) {
        let port = ServerOption.defaultValue(\.listeningPort)
        self.port = port ?? 0
        listensOnTCP = port != nil
        self.workers = max(1, workers ?? ServerOption.defaultValue(\.workers))
        self.maxInflight = maxInflight ?? ServerOption.defaultValue(\.maxInflight, workers: self.workers)
    }

    /// The port as `--port` sets it: nil is `none` (no TCP listener).
    var listeningPort: Int? {
        get { listensOnTCP ? port : nil }
        set {
            if let newValue { port = newValue }
            listensOnTCP = newValue != nil
        }
    }
}

extension ServerConfiguration {
    var connectionLimits: Connection.Machine.Limits {
        .init(
            idleTimeout: .seconds(idleTimeout), requestTimeout: .seconds(requestTimeout), lingerTimeout: .seconds(lingerTimeout),
            drainGrace: .seconds(drainGrace), minUploadRate: minUploadRate, uploadGrace: .seconds(uploadGrace),
            maxPipelined: maxPipelinedRequests, firstByteTimeout: .seconds(firstByteTimeout))
    }
}
