#if canImport(Glibc)
    import Glibc
#endif

extension ServerConfiguration {
    /// Half of what this process may use: the cgroup's memory limit in a container, else the
    /// machine's physical memory (at least 256 MiB).
    public static func defaultBufferedBytes(limits: CgroupLimits = .read()) -> Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        let machine = physical > 0 ? physical : 1 << 32
        return max(256 << 20, min(machine, limits.memoryBytes ?? machine) / 2)
    }

    /// Cores this process may use: online CPUs, lowered by the cgroup's CPU quota (rounded up).
    public static func defaultWorkers(limits: CgroupLimits = .read()) -> Int {
        let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard let cpus = limits.cpus else { return online }
        return max(1, min(online, Int(cpus.rounded(.up))))
    }

    /// Three quarters of the descriptor limit, leaving room for the listener, the loop's own
    /// descriptors and logs; at most 16384.
    public static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return 16384 }
        return max(16, min(16384, Int(limit.rlim_cur) * 3 / 4))
    }
}
