import CUV
import Dispatch
import OmniZipCore

/// The only way into the loop from other threads. Workers (and `Server.stop`) append an item
/// under a lock and wake the loop with `uv_async_send`, the one thread-safe libuv call; the
/// loop's async callback takes the whole batch. libuv may coalesce several sends into one
/// callback, which is why items queue here rather than ride on the signal.
///
/// Threads: `post` from any thread; `take`, `close` and the handle's life on the loop thread.
/// The async handle is only signalled under the lock while `open`, and `close` clears `open`
/// under the same lock before the handle is closed, so no send can race its closing.
final class CompletionQueue: @unchecked Sendable {
    enum Item: Sendable {
        case finished(LoopBound<Exchange>, JobOutcome)
        /// A pump job gave its workers back (`JobScheduler`).
        case pumped(StreamingCompression)
        case drain(DispatchSemaphore?)
    }

    private struct State {
        var items: [Item] = []
        var open = true
    }

    private let state = Locked(State())
    private let handle: UnsafeMutablePointer<uv_async_t>

    /// Must run on the loop thread. `callback` runs there whenever items may be waiting.
    init?(
        loop: UnsafeMutablePointer<uv_loop_t>, owner: UnsafeMutableRawPointer,
        callback: @convention(c) (UnsafeMutablePointer<uv_async_t>?) -> Void
    ) {
        handle = .allocate(capacity: 1)
        guard uv_async_init(loop, handle, callback) == 0 else {
            handle.deallocate()
            return nil
        }
        handle.pointee.data = owner
    }

    /// False when the loop has finished and the item was dropped.
    @discardableResult
    func post(_ item: Item) -> Bool {
        state.withLock { state in
            guard state.open else { return false }
            state.items.append(item)
            uv_async_send(handle)
            return true
        }
    }

    func take() -> [Item] {
        state.withLock { state in
            defer { state.items.removeAll(keepingCapacity: true) }
            return state.items
        }
    }

    /// Loop thread, once, when nothing can be in flight any more.
    func close() {
        let pending: [Item] = state.withLock { state in
            state.open = false
            defer { state.items = [] }
            return state.items
        }
        for case let .drain(ack?) in pending { ack.signal() }
        uv_close(handle.handleRef) { handle in handle?.deallocate() }
    }
}
