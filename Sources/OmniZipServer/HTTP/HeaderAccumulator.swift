import OmniZipWire

/// Accumulates header name/value pieces and keeps the few headers the server reads.
struct HeaderAccumulator {
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    /// Total bytes seen, as a guard on top of http_parser's own header limit.
    private(set) var total = 0

    mutating func addField(_ bytes: UnsafeRawBufferPointer, into exchange: Exchange) {
        if inValue { finish(into: exchange) }
        total += bytes.count
        if field.count < 256 { field.append(contentsOf: bytes.prefix(256 - field.count)) }
    }

    /// RFC 9110 tchar: what a header name may hold.
    static func isTokenCharacter(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }

    mutating func addValue(_ bytes: UnsafeRawBufferPointer) {
        inValue = true
        total += bytes.count
        if value.count < 8192 { value.append(contentsOf: bytes.prefix(8192 - value.count)) }
    }

    mutating func finish(into exchange: Exchange) {
        defer {
            field.removeAll(keepingCapacity: true)
            value.removeAll(keepingCapacity: true)
            inValue = false
        }
        guard !field.isEmpty else { return }
        let name = String(decoding: field, as: UTF8.self).lowercased()
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        switch name {
        case "content-type": exchange.contentType = String(decoding: value, as: UTF8.self)
        case "accept": exchange.accept = String(decoding: value, as: UTF8.self)
        case "expect": exchange.expectsContinue = String(decoding: value, as: UTF8.self).lowercased() == "100-continue"
        case "x-request-id": exchange.requestIDHeader = value
        default: break
        }
    }
}
