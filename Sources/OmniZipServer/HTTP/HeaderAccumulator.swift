import Foundation
import OmniZipWire

/// Accumulates header name/value pieces and keeps the few headers the server reads.
struct HeaderAccumulator {
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    /// Total bytes seen, as a guard on top of http_parser's own header limit.
    private(set) var total = 0
    /// The request's transfer codings, in order, over every Transfer-Encoding line.
    private(set) var transferCodings: [String] = []

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
        case DescriptorBody.lengthHeader: exchange.memfdLength = exchange.memfdLength == nil ? String(decoding: value, as: UTF8.self) : ""
        case "transfer-encoding":
            transferCodings += String(decoding: value, as: UTF8.self).lowercased().split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default: break
        }
    }

    /// Why the transfer codings cannot be taken as they are (RFC 9112 6.1: chunked at most once),
    /// or nil.
    var transferCodingProblem: String? {
        transferCodings.filter { $0 == "chunked" }.count > 1 ? "chunked transfer coding applied more than once" : nil
    }

    /// Whether the header value piece `value` continues the line before it (obs-fold, RFC 9112
    /// 5.2, which a server must refuse or replace: a proxy may read the folded line as a field of
    /// its own): the line feed before it is followed only by blanks, at least one (http_parser
    /// hands the fold's blanks over at the start of the piece). `readStart` is the start of the
    /// bytes being parsed; `lineStartBefore` whether the bytes before them ended at the start of
    /// a line (a line feed, then blanks only).
    static func continuesFoldedLine(_ value: UnsafeRawBufferPointer, readStart: UnsafeRawPointer, lineStartBefore: Bool) -> Bool {
        guard let at = value.baseAddress else { return false }
        var p = at
        while p > readStart, isBlank(p.load(fromByteOffset: -1, as: UInt8.self)) { p -= 1 }
        let blank = p < at || value.first.map(isBlank) == true
        // The blanks reach back into the bytes parsed before: those decide.
        if p == readStart { return lineStartBefore && (blank || at == readStart) }
        return blank && p.load(fromByteOffset: -1, as: UInt8.self) == 0x0A
    }

    /// Where `bytes` leave a reader: at the start of a line (after a line feed and blanks), not
    /// there, or unchanged (all blanks) from `before`.
    static func endsAtLineStart(_ bytes: UnsafeRawBufferPointer, before: Bool) -> Bool {
        var i = bytes.count
        while i > 0, isBlank(bytes[i - 1]) { i -= 1 }
        return i == 0 ? before : bytes[i - 1] == 0x0A
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
}
