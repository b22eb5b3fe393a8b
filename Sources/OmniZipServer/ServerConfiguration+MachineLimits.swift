#if canImport(Glibc)
    import Glibc
#endif

extension ServerConfiguration {
    /// Half of what this process may use: the cgroup's memory limit in a container, else the
    /// machine's physical memory (at least 256 MiB).
    public static func defaultBufferedBytes() -> Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        var limit = physical > 0 ? physical : 1 << 32
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = readSmallFile(path), let value = Int(text.trimmingSpaces().filter { !$0.isNewline }), value > 0 {
                limit = min(limit, value)
            }
        }
        return max(256 << 20, limit / 2)
    }

    /// Three quarters of the descriptor limit, leaving room for the listener, the loop's own
    /// descriptors and logs; at most 16384.
    public static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return 16384 }
        return max(16, min(16384, Int(limit.rlim_cur) * 3 / 4))
    }

    private static func readSmallFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        return String(cString: buffer)
    }
}
