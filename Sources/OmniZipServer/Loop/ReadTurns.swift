import CUV

/// Shares the bytes the loop reads in one turn among the connections reading in it.
///
/// libuv reads a readable socket until it is drained (or 32 buffers), and a loopback socket
/// can hold 32 MiB: one turn over 32 uploading connections could copy a gigabyte before a
/// `/livez` probe on the same loop is read. So each turn has a budget, split evenly among the
/// connections that read in the previous turn (never below `minimumShare`): one upload alone
/// reads at full speed, 32 at once keep a turn to a few milliseconds. A connection over its
/// share gets a zero-length buffer, which libuv answers with UV_ENOBUFS and no read; the socket
/// is still readable, so the next turn picks it up again (epoll is level-triggered).
final class ReadTurns {
    static let turnBudget = 2 << 20
    static let minimumShare = 64 << 10

    private let handle: UnsafeMutablePointer<uv_check_t>
    private(set) var turn: UInt64 = 0
    /// What each connection may read in this turn.
    private(set) var share = turnBudget
    private var readers = 0

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
            Unmanaged<ReadTurns>.fromOpaque(data).takeUnretainedValue().endTurn()
        }
        uv_unref(handle.handleRef)
    }

    /// A connection read for the first time in this turn.
    func connectionRead() { readers += 1 }

    /// Each reader's share of a turn when `readers` connections read in the last one.
    static func share(readers: Int) -> Int { max(minimumShare, turnBudget / max(1, readers)) }

    private func endTurn() {
        turn &+= 1
        share = Self.share(readers: readers)
        readers = 0
    }

    func close() {
        uv_check_stop(handle)
        uv_close(handle.handleRef) { UnsafeMutableRawPointer($0)?.deallocate() }
    }
}
