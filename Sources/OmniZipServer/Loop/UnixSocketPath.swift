#if canImport(Glibc)
    import Glibc
#endif
import CUV

/// What may already lie at a Unix socket's path before we bind it. A server that crashed (or
/// got SIGKILL) leaves its socket file behind, and bind fails on any existing file, so a stale
/// socket must go; but only a socket that nobody accepts on. Anything else (a regular file, a
/// directory, a symlink, a live server's socket) is someone's data or service and is left alone.
enum UnixSocketPath {
    /// Removes a stale socket at `path`; throws when something else is there.
    static func clearStale(_ path: String) throws(ServerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { try requireDirectory(of: path) }
            return // Anything else, bind reports.
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ServerError("cannot listen on Unix socket \(path): the path exists and is not a socket; not replacing it")
        }
        switch probe(path) {
        case ECONNREFUSED:
            // Nobody listens: a leftover. Unlink fails harmlessly if another starting server
            // removed it first; bind then decides between us.
            if unlink(path) != 0, errno != ENOENT {
                throw ServerError("cannot remove the stale Unix socket \(path): \(String(cString: strerror(errno)))")
            }
        case ENOENT:
            return
        case 0, EAGAIN:
            throw ServerError("cannot listen on Unix socket \(path): another process is listening on it")
        case let code:
            throw ServerError("cannot tell whether Unix socket \(path) is in use (\(String(cString: strerror(code)))); not replacing it")
        }
    }

    /// connect's errno (0 when it connected). Non-blocking, so a live server whose backlog is
    /// full answers EAGAIN at once instead of making startup wait.
    private static func probe(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { out in
            let bytes = Array(path.utf8.prefix(out.count - 1))
            out.copyBytes(from: bytes)
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return status == 0 ? 0 : errno
    }

    /// libuv reports a missing directory as EACCES; say what is actually wrong (in Kubernetes,
    /// usually a volume that is not mounted).
    private static func requireDirectory(of path: String) throws(ServerError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        var info = stat()
        let found = stat(directory, &info) == 0
        if found ? info.st_mode & S_IFMT != S_IFDIR : errno == ENOENT {
            throw ServerError("cannot bind Unix socket \(path): \(directory) is not an existing directory")
        }
    }
}
