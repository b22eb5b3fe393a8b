import CUV

/// A connection's libuv stream: a TCP socket, or a Unix-domain one (a uv_pipe_t). Everything
/// past accept works on the stream alone, so a `Connection` does not care which. Loop thread only.
struct ClientSocket {
    enum Transport {
        case tcp, unix
    }

    let stream: UnsafeMutablePointer<uv_stream_t>
    let transport: Transport

    /// nil when libuv refuses the handle (the memory is freed then).
    init?(loop: UnsafeMutablePointer<uv_loop_t>, transport: Transport) {
        switch transport {
        case .tcp:
            let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
            guard uv_tcp_init(loop, tcp) == 0 else {
                tcp.deallocate()
                return nil
            }
            stream = tcp.streamRef
        case .unix:
            let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
            guard uv_pipe_init(loop, pipe, 0) == 0 else {
                pipe.deallocate()
                return nil
            }
            stream = pipe.streamRef
        }
        self.transport = transport
    }

    var handle: UnsafeMutablePointer<uv_handle_t> { stream.handleRef }

    /// Responses go out at once rather than wait for an ACK (Nagle). A Unix socket has no such delay.
    func sendWithoutDelay() {
        guard transport == .tcp else { return }
        _ = uv_tcp_nodelay(UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_tcp_t.self), 1)
    }

    /// After the handle's close callback.
    func deallocate() {
        UnsafeMutableRawPointer(stream).deallocate()
    }
}
