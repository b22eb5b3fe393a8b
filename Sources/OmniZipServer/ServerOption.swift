import OmniZipWire

/// One `omnizip serve` setting: its long option, its `OMNIZIP_*` variable, its help, its one
/// default and how its text sets `ServerConfiguration`. The table (`ServerOption.table`) is the
/// only place these are written; the command line, the environment, `--help`, `--dump-options`,
/// `/v1/info`, the README check and the deployment check all read it.
public struct ServerOption: Sendable {
    /// The long option without dashes ("max-inflight").
    public let name: String
    /// What the value is, for help and the README ("BYTES").
    public let valueName: String
    public let help: String
    /// The default as documented: the value itself, or the rule that computes it on this machine.
    public let defaultText: String
    /// The values it accepts when they are a fixed set (log-format).
    public let choices: [String]?
    /// Whether `/v1/info` reports its effective value (under `settings`). Listener settings are
    /// not: a client reaching the endpoint already knows the address it used.
    public let reported: Bool
    /// Giving it (flag or environment) keeps TCP listening beside a Unix socket.
    public let asksForTCP: Bool
    /// What a valid value looks like, completing "invalid value 'X' for --opt: expected ...".
    let expected: String

    /// Sets the field from the given text; false when the text is not a valid value.
    let set: @Sendable (inout ServerConfiguration, String) -> Bool
    /// The effective value in a configuration, as JSON.
    let json: @Sendable (ServerConfiguration) -> String
    /// Re-derives the default from settings it depends on (max-inflight from workers).
    let rederive: (@Sendable (inout ServerConfiguration) -> Void)?
    /// The default value, type-erased; `ServerOption.defaultValue(_:)` casts it back.
    let makeDefault: @Sendable (_ workers: Int?) -> any Sendable
    let keyPath: AnyKeyPath & Sendable

    public var flag: String { "--" + name }

    /// The environment variable: OMNIZIP_ and the name in capitals, dashes as underscores.
    public var variable: String { "OMNIZIP_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 }) }
}

extension ServerOption {
    /// Where a default comes from.
    enum Default<Value: Sendable>: Sendable {
        /// A constant.
        case value(Value)
        /// Read off the machine (cores, memory, descriptors) each time a configuration is made.
        case machine(String, @Sendable () -> Value)
        /// A rule over the worker count.
        case perWorkers(String, @Sendable (Int) -> Value)
    }

    /// How a setting's text becomes a value, and how a value is written back.
    struct Parser<Value: Sendable>: Sendable {
        let expected: String
        let parse: @Sendable (String) -> Value?
        /// The value as a user would type it (the documented default).
        let text: @Sendable (Value) -> String
        let json: @Sendable (Value) -> String
    }

    /// A setting stored at `keyPath` of `ServerConfiguration`.
    init<Value: Sendable>(
        _ name: String, _ valueName: String, _ keyPath: WritableKeyPath<ServerConfiguration, Value> & Sendable,
        default: Default<Value>, parser: Parser<Value>, choices: [String]? = nil, reported: Bool, asksForTCP: Bool = false,
        help: String
    ) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.choices = choices
        self.reported = reported
        self.asksForTCP = asksForTCP
        self.expected = parser.expected
        self.keyPath = keyPath
        switch `default` {
        case .value(let value):
            defaultText = parser.text(value)
            makeDefault = { _ in value }
            rederive = nil
        case .machine(let rule, let compute):
            defaultText = rule
            makeDefault = { _ in compute() }
            rederive = nil
        case .perWorkers(let rule, let compute):
            defaultText = rule
            makeDefault = { workers in
                guard let workers else { preconditionFailure("\(name)'s default needs the worker count") }
                return compute(workers)
            }
            rederive = { $0[keyPath: keyPath] = compute($0.workers) }
        }
        set = { configuration, text in
            guard let value = parser.parse(text) else { return false }
            configuration[keyPath: keyPath] = value
            return true
        }
        json = { parser.json($0[keyPath: keyPath]) }
    }

    /// The option that sets `keyPath`.
    static func option(for keyPath: AnyKeyPath) -> ServerOption {
        guard let option = table.first(where: { $0.keyPath == keyPath }) else {
            preconditionFailure("no serve option sets \(keyPath)")
        }
        return option
    }

    /// The table's default for the setting at `keyPath`: `ServerConfiguration`'s initial values
    /// come from here, so a default is written once.
    static func defaultValue<Value>(_ keyPath: WritableKeyPath<ServerConfiguration, Value>, workers: Int? = nil) -> Value {
        guard let value = option(for: keyPath).makeDefault(workers) as? Value else {
            preconditionFailure("the default of \(keyPath) has another type")
        }
        return value
    }

    public static func named(_ name: String) -> ServerOption? { table.first { $0.name == name } }
}

extension ServerOption.Parser {
    /// An integer in `range`, spaces around it allowed.
    static func integer(in range: ClosedRange<Int>) -> ServerOption.Parser<Int> {
        .init(
            expected: "an integer in [\(range.lowerBound), \(range.upperBound)]",
            parse: { Int($0.trimmingSpaces()).flatMap { range.contains($0) ? $0 : nil } },
            text: { String($0) }, json: { String($0) })
    }
}
