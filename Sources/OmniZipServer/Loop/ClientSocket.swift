import CUV

#if canImport(Glibc)
    import Glibc
#endif

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
            // An IPC pipe reads with recvmsg and keeps the descriptors that come with the bytes.
            guard uv_pipe_init(loop, pipe, 1) == 0 else {
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

    /// The descriptors (SCM_RIGHTS) that came with the bytes just read, out of libuv's queue.
    /// libuv hands them over only as handles: each is accepted into a pipe handle, duplicated,
    /// and the handle closed (which closes libuv's copy). Those left in the queue when the
    /// stream closes are closed by libuv.
    func takeDescriptors(loop: UnsafeMutablePointer<uv_loop_t>) -> [ReceivedDescriptor] {
        guard transport == .unix else { return [] }
        let pipe = UnsafeMutableRawPointer(stream).assumingMemoryBound(to: uv_pipe_t.self)
        var taken: [ReceivedDescriptor] = []
        while uv_pipe_pending_count(pipe) > 0 {
            let holder = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
            guard uv_pipe_init(loop, holder, 0) == 0 else {
                holder.deallocate()
                break
            }
            var fd: uv_os_fd_t = -1
            if uv_accept(stream, holder.streamRef) == 0, uv_fileno(holder.streamRef.handleRef, &fd) == 0 {
                let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                if copy >= 0 { taken.append(ReceivedDescriptor(taking: copy)) }
            }
            uv_close(holder.streamRef.handleRef) { handle in UnsafeMutableRawPointer(handle)?.deallocate() }
        }
        return taken
    }

    /// After the handle's close callback.
    func deallocate() {
        UnsafeMutableRawPointer(stream).deallocate()
    }
}
