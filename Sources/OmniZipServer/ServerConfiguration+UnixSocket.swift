import OmniZipWire

extension ServerConfiguration {
    /// Longest socket path: `sun_path` is 108 bytes with the terminating NUL, and libuv would
    /// silently cut a longer one (and bind somewhere else).
    static let maxUnixSocketPathBytes = 107

    /// A Unix socket replaces the default TCP listener, as with uvicorn's `--uds` or gunicorn's
    /// `--bind unix:`: asking for a socket usually means not wanting a network port. TCP stays
    /// when a host or port is given too (flag or environment: the image and the Kubernetes
    /// ConfigMap set OMNIZIP_PORT, so containers keep TCP for their probes); `--port none`
    /// turns it off regardless.
    static func resolveUnixSocket(
        into configuration: inout ServerConfiguration, _ socket: (text: String, origin: String)?,
        mode: (text: String, origin: String)?, tcpRequested: Bool
    ) throws(ConfigurationError) {
        if let (text, origin) = mode {
            var digits = Substring(text.trimmingSpaces().lowercased())
            if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
            guard !digits.isEmpty, digits.count <= 4, let bits = UInt32(digits, radix: 8), bits <= 0o777 else {
                throw ConfigurationError(description: "invalid value '\(text)' for \(origin): expected octal permission bits in [0, 0777], e.g. 0660")
            }
            configuration.unixSocketMode = bits
        }
        if let (text, origin) = socket {
            guard !text.isEmpty, text.utf8.count <= maxUnixSocketPathBytes, !text.utf8.contains(0) else {
                throw ConfigurationError(
                    description: "invalid value '\(text)' for \(origin): expected a socket path of 1 to \(maxUnixSocketPathBytes) bytes")
            }
            configuration.unixSocket = text
            if !tcpRequested { configuration.listensOnTCP = false }
        }
        if !configuration.listensOnTCP, configuration.unixSocket == nil {
            throw ConfigurationError(description: "--port none (OMNIZIP_PORT=none) leaves nothing to listen on: give --unix-socket too")
        }
    }
}
