import CUV
import OmniZipWire

/// Writing what the state machine says to write, in the order it says.
extension Connection {
    func sendContinue(for exchange: Exchange) {
        guard let buffer = ByteBuffer(copying: HTTPResponse.continueLine) else { return }
        write(WriteContext(connection: self, exchange: nil, status: 100, errorCode: nil, buffers: [buffer]))
    }

    func send(_ response: HTTPResponse, for exchange: Exchange, closing: Bool) {
        var head = response.head(requestID: exchange.requestID, keepAlive: !closing, http10: exchange.http10, date: server.date())
        var buffers: [ByteBuffer] = []
        // A response to HEAD has headers only (Content-Length still that of the GET answer),
        // or the client would read the body as the next response.
        if exchange.method != "HEAD" {
            switch response.body {
            case let .bytes(bytes): head.append(contentsOf: bytes)
            case let .buffer(buffer): buffers.append(buffer)
            }
        }
        guard let headBuffer = ByteBuffer(copying: head) else {
            server.responseWritten(exchange, status: response.status, errorCode: response.errorCode, bytesOut: 0, failure: "out of memory")
            close()
            return
        }
        buffers.insert(headBuffer, at: 0)
        write(WriteContext(connection: self, exchange: exchange, status: response.status, errorCode: response.errorCode, buffers: buffers))
    }

    /// Tries a direct write first (most responses fit the socket buffer and need no request
    /// object); queues the remainder with uv_write. libuv refuses try_write while earlier
    /// writes are queued, so order holds.
    private func write(_ context: WriteContext) {
        var buffers = context.buffers.map { uv_buf_t(base: $0.base?.assumingMemoryBound(to: CChar.self), len: $0.count) }
        let written = Int(uv_try_write(stream, buffers, UInt32(buffers.count)))
        if written == context.total {
            writeFinished(context, status: 0, inCallback: false)
            return
        }
        if written < 0, written != Int(UV_EAGAIN.rawValue) {
            writeFinished(context, status: Int32(written), inCallback: false)
            return
        }
        var skip = max(0, written)
        while skip > 0, let first = buffers.first {
            if skip >= first.len {
                skip -= first.len
                buffers.removeFirst()
            } else {
                buffers[0] = uv_buf_t(base: first.base + skip, len: first.len - skip)
                skip = 0
            }
        }
        let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(context).toOpaque()
        let status = uv_write(request, stream, buffers, UInt32(buffers.count)) { request, status in
            guard let request else { return }
            let context = Unmanaged<WriteContext>.fromOpaque(request.pointee.data).takeRetainedValue()
            request.deallocate()
            context.connection.writeFinished(context, status: status, inCallback: true)
        }
        if status != 0 {
            Unmanaged<WriteContext>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            writeFinished(context, status: status, inCallback: false)
        }
    }

    /// `inCallback`: from uv_write's callback, where reading may resume (backpressure); a write
    /// that finished synchronously returns to the action loop, which carries on by itself.
    private func writeFinished(_ context: WriteContext, status: Int32, inCallback: Bool) {
        if let exchange = context.exchange {
            let failure = status < 0 ? "write failed: " + String(cString: uv_err_name(status)) : nil
            server.responseWritten(
                exchange, status: context.status, errorCode: context.errorCode,
                bytesOut: status < 0 ? 0 : context.total, failure: failure)
        }
        if status < 0 {
            close()
        } else if inCallback, phase != .closed {
            afterEvent()
        }
    }
}
