import CUV

/// Counts loop turns so that each connection reads at most `budget` bytes per turn.
///
/// libuv reads a readable socket until it is drained (or 32 buffers), and a loopback socket
/// can hold 32 MiB: one turn over 32 uploading connections could copy a gigabyte before a
/// `/livez` probe on the same loop is read. With a per-turn budget a turn stays short and
/// every connection, busy or not, is served once a turn. A connection over its budget gets a
/// zero-length buffer, which libuv answers with UV_ENOBUFS and no read; the socket is still
/// readable, so the next turn picks it up again (epoll is level-triggered).
final class ReadTurns {
    static let budget = 64 << 10

    private let handle: UnsafeMutablePointer<uv_check_t>
    private(set) var turn: UInt64 = 0

    init?(loop: UnsafeMutablePointer<uv_loop_t>) {
        handle = .allocate(capacity: 1)
        guard uv_check_init(loop, handle) == 0 else {
            handle.deallocate()
            return nil
        }
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        // A check handle runs after each poll; unreferenced, it never keeps the loop alive.
        uv_check_start(handle) { handle in
            guard let data = handle?.pointee.data else { return }
            Unmanaged<ReadTurns>.fromOpaque(data).takeUnretainedValue().turn &+= 1
        }
        uv_unref(handle.handleRef)
    }

    func close() {
        uv_check_stop(handle)
        uv_close(handle.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
    }
}
