#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import OmniZipWire
import Logging
import Synchronization

/// The per-request line: method, path, the query, status, bytes in/out, duration, request id;
/// on an error response its code, on a compression the kept counts and phase times. The level
/// says whose the problem is: `error` for 5xx, `warning` for 4xx (the client's request), `info`
/// otherwise, and for 499 (the client went away before its answer).
enum RequestLog {
    /// What a finished job adds to its line.
    struct Outcome {
        var counts: TokenCounts?
        var phases: [(name: String, ms: Double)] = []
    }

    static func write(
        _ logger: Logger, exchange: Exchange, status: Int, bytesOut: Int, duration: Duration, errorCode: ErrorCode? = nil,
        note: String? = nil
    ) {
        var metadata: Logger.Metadata = [
            "method": .string(exchange.method), "path": .string(exchange.path), "status": .stringConvertible(status),
            "bytes_in": .stringConvertible(exchange.bytesIn), "bytes_out": .stringConvertible(bytesOut),
            "duration_ms": .stringConvertible((duration.milliseconds * 1e3).rounded() / 1e3),
            "request_id": .string(exchange.requestID),
        ]
        if !exchange.query.isEmpty {
            metadata["query"] = .string(exchange.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&"))
        }
        if let errorCode { metadata["error"] = .string(errorCode.rawValue) }
        if let counts = exchange.outcome?.counts {
            metadata["tokens"] = .stringConvertible(counts.total)
            metadata["kept"] = .stringConvertible(counts.kept)
            metadata["kept_audio"] = .string("\(counts.keptAudio)/\(counts.totalAudio)")
            metadata["kept_video"] = .string("\(counts.keptVideo)/\(counts.totalVideo)")
        }
        for (name, ms) in exchange.outcome?.phases ?? [] {
            metadata["\(name)_ms"] = .stringConvertible((ms * 1e3).rounded() / 1e3)
        }
        if let note { metadata["note"] = .string(note) }
        logger.log(level: level(status), "request", metadata: metadata)
    }

    static func level(_ status: Int) -> Logger.Level {
        switch status {
        case 500...: return .error
        case 499: return .info
        case 400...: return .warning
        default: return .info
        }
    }
}
