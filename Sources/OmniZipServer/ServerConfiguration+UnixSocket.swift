extension ServerConfiguration {
    /// Longest socket path: `sun_path` is 108 bytes with the terminating NUL, and libuv would
    /// silently cut a longer one (and bind somewhere else).
    static let maxUnixSocketPathBytes = 107

    /// A Unix socket replaces the default TCP listener, as with uvicorn's `--uds` or gunicorn's
    /// `--bind unix:`: asking for a socket usually means not wanting a network port. TCP stays
    /// when a host or port is given too (flag or environment: the image and the Kubernetes
    /// ConfigMap set OMNIZIP_PORT, so containers keep TCP for their probes); `--port none`
    /// turns it off regardless.
    mutating func settleListeners(tcpRequested: Bool) throws(ConfigurationError) {
        if unixSocket != nil, !tcpRequested { listensOnTCP = false }
        if !listensOnTCP, unixSocket == nil {
            let port = ServerOption.option(for: \ServerConfiguration.listeningPort)
            let socket = ServerOption.option(for: \ServerConfiguration.unixSocket)
            throw ConfigurationError(
                description: "\(port.flag) none (\(port.variable)=none) leaves nothing to listen on: give \(socket.flag) too")
        }
    }
}
