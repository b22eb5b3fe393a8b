#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor a client passed over the Unix socket (SCM_RIGHTS). It is closed when the
/// last reference goes: whatever path a request takes (answered, refused, abandoned, or the
/// descriptor unexpected), dropping it is closing it, so none can leak.
final class ReceivedDescriptor {
    let fd: Int32

    init(taking fd: Int32) { self.fd = fd }

    deinit { close(fd) }
}
