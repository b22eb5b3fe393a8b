import CUV
import OmniZipWire

/// What one uv_write keeps alive until its callback: the bytes and who to tell.
final class WriteContext {
    let connection: Connection
    /// nil for a `100 Continue`.
    let exchange: Exchange?
    let status: Int
    let errorCode: ErrorCode?
    let buffers: [ByteBuffer]
    let total: Int

    init(connection: Connection, exchange: Exchange?, status: Int, errorCode: ErrorCode?, buffers: [ByteBuffer]) {
        self.connection = connection
        self.exchange = exchange
        self.status = status
        self.errorCode = errorCode
        self.buffers = buffers.filter { $0.count > 0 }
        total = self.buffers.reduce(0) { $0 + $1.count }
    }
}
