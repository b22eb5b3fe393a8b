#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import OmniZipWire
import Logging
import Synchronization

/// The per-request line: method, path, status, bytes in/out, duration, request id.
enum RequestLog {
    static func write(_ logger: Logger, exchange: Exchange, status: Int, bytesOut: Int, duration: Duration, note: String? = nil) {
        var metadata: Logger.Metadata = [
            "method": .string(exchange.method), "path": .string(exchange.path), "status": .stringConvertible(status),
            "bytes_in": .stringConvertible(exchange.bytesIn), "bytes_out": .stringConvertible(bytesOut),
            "duration_ms": .stringConvertible((duration.milliseconds * 1e3).rounded() / 1e3),
            "request_id": .string(exchange.requestID),
        ]
        if let note { metadata["note"] = .string(note) }
        logger.info("request", metadata: metadata)
    }
}
