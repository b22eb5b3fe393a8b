import OmniZipWire

extension ServerOption {
    /// `--opt value` and `--opt=value` pairs by option name; the last of a repeated option wins.
    /// An unknown option, a stray word or a missing value is an error naming it.
    public static func flags(from arguments: [String]) throws(ConfigurationError) -> [String: String] {
        var flags: [String: String] = [:]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ConfigurationError(description: "unexpected argument '\(argument)'")
            }
            let body = argument.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            guard named(name) != nil else { throw ConfigurationError(description: "unknown option '--\(name)'") }
            if let equals = body.firstIndex(of: "=") {
                flags[name] = String(body[body.index(after: equals)...])
            } else if let value = rest.first, !value.hasPrefix("--") {
                flags[name] = value
                rest = rest.dropFirst()
            } else {
                throw ConfigurationError(description: "missing value for '--\(name)'")
            }
        }
        return flags
    }

    /// The options part of `omnizip serve --help`: each flag with its help, variable and default,
    /// wrapped here to 79 columns with a hanging indent (ArgumentParser would wrap it flush left).
    public static var helpText: String {
        let column = (table.map { $0.flag.count + 1 + $0.valueName.count }.max() ?? 0) + 4
        return table.map { option in
            let head = "  " + option.flag + " " + option.valueName
            let lines = wrap(option.help, width: 79 - column) + wrap("\(option.variable); default: \(option.defaultText)", width: 79 - column)
            let indent = String(repeating: " ", count: column)
            return head + String(repeating: " ", count: column - head.count) + lines.joined(separator: "\n" + indent)
        }.joined(separator: "\n")
    }

    private static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }

    /// The table as JSON, for the deployment check and the README check.
    public static var dumpJSON: String {
        let options = table.map { option in
            JSONText.object([
                ("name", JSONText.string(option.name)), ("flag", JSONText.string(option.flag)),
                ("variable", JSONText.string(option.variable)), ("value_name", JSONText.string(option.valueName)),
                ("default", JSONText.string(option.defaultText)), ("help", JSONText.string(option.help)),
                ("choices", option.choices.map { "[" + $0.map(JSONText.string).joined(separator: ",") + "]" } ?? "null"),
                ("reported_by_info", option.reported ? "true" : "false"),
            ])
        }
        return JSONText.object([("options", "[" + options.joined(separator: ",") + "]")]) + "\n"
    }

    /// The effective value of each option `/v1/info` reports, by option name.
    static func settingsJSON(_ configuration: ServerConfiguration) -> String {
        JSONText.object(table.filter(\.reported).map { ($0.name, $0.json(configuration)) })
    }
}
