import OmniZipWire

extension ServerConfiguration {
    /// Flags win over the environment, which wins over the table's defaults. `flags` maps option
    /// names ("max-inflight") to the raw text given; `environment` is the process environment
    /// (only the table's `OMNIZIP_*` variables are read). `defaultWorkers` pins the worker count
    /// the machine would otherwise decide (tests).
    public static func resolve(
        flags: [String: String], environment: [String: String], defaultWorkers: Int? = nil
    ) throws(ConfigurationError) -> ServerConfiguration {
        if let unknown = flags.keys.sorted().first(where: { ServerOption.named($0) == nil }) {
            throw ConfigurationError(description: "unknown option '--\(unknown)'")
        }
        var configuration = ServerConfiguration(workers: defaultWorkers)
        var given: Set<String> = []
        for option in ServerOption.table {
            let raw: (text: String, origin: String)
            if let text = flags[option.name] {
                raw = (text, option.flag)
            } else if let text = environment[option.variable] {
                raw = (text, option.variable)
            } else {
                continue
            }
            guard option.set(&configuration, raw.text) else {
                throw ConfigurationError(description: "invalid value '\(raw.text)' for \(raw.origin): expected \(option.expected)")
            }
            given.insert(option.name)
        }
        for option in ServerOption.table where !given.contains(option.name) { option.rederive?(&configuration) }
        let tcpRequested = ServerOption.table.contains { $0.asksForTCP && given.contains($0.name) }
        try configuration.settleListeners(tcpRequested: tcpRequested)
        return configuration
    }
}
