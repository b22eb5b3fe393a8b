/// A safetensors parse or access failure. `message` is a complete sentence that names the
/// tensor, key or byte offset at fault, so it can be shown to a user as-is.
public struct SafetensorsError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Quotes an input-derived string for an error message: escapes quotes and control characters
/// and shortens very long names so a hostile header cannot produce a megabyte-long message.
func quoted(_ text: String, limit: Int = 80) -> String {
    var out = "'"
    var emitted = 0
    for scalar in text.unicodeScalars {
        if emitted == limit {
            out += "…"
            break
        }
        switch scalar {
        case "'": out += "\\'"
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        emitted += 1
    }
    return out + "'"
}

/// Describes one header byte for a syntax error ("'x'", "byte 0xFF").
func describeByte(_ byte: UInt8) -> String {
    if byte >= 0x21 && byte < 0x7F {
        return "'\(Character(Unicode.Scalar(byte)))'"
    }
    switch byte {
    case 0x20: return "a space"
    case 0x09: return "a tab"
    case 0x0A: return "a newline"
    case 0x0D: return "a carriage return"
    default: return "byte 0x" + hex2(byte)
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
