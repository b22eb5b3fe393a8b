/// What a container's cgroup allows this process: CPUs (the CFS quota over its period) and
/// memory, read from cgroup v2 (`cpu.max`, `memory.max`) or, on hosts still on v1 (the hybrid
/// layout of this machine kind among them), `cpu/cpu.cfs_quota_us` over `cpu.cfs_period_us`
/// and `memory/memory.limit_in_bytes`. nil where no limit is set.
public struct CgroupLimits: Equatable, Sendable {
    public var cpus: Double?
    public var memoryBytes: Int?

    public init(cpus: Double? = nil, memoryBytes: Int? = nil) {
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }

    /// The limits under `root` (the cgroup mount, or a folder of sample files in tests); a
    /// v2 file wins over its v1 counterpart.
    public static func read(root: String = "/sys/fs/cgroup") -> CgroupLimits {
        func file(_ path: String) -> String? { KernelFile.firstLine(root + "/" + path) }
        return CgroupLimits(
            cpus: cpuQuota(
                v2: file("cpu.max"), v1Quota: file("cpu/cpu.cfs_quota_us") ?? file("cpu,cpuacct/cpu.cfs_quota_us"),
                v1Period: file("cpu/cpu.cfs_period_us") ?? file("cpu,cpuacct/cpu.cfs_period_us")),
            memoryBytes: memoryLimit(v2: file("memory.max"), v1: file("memory/memory.limit_in_bytes")))
    }

    /// v2 `cpu.max` is "max PERIOD" or "QUOTA PERIOD"; v1's quota is -1 without a limit.
    static func cpuQuota(v2: String?, v1Quota: String?, v1Period: String?) -> Double? {
        if let v2 {
            let fields = v2.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0 else { return nil }
            return quota / period
        }
        guard let quota = v1Quota.flatMap({ Double($0.trimmingSpaces()) }), let period = v1Period.flatMap({ Double($0.trimmingSpaces()) }),
            quota > 0, period > 0
        else { return nil }
        return quota / period
    }

    /// v2 `memory.max` is "max" or bytes; v1 reports "no limit" as a number near Int64.max,
    /// which the caller's `min` with physical memory absorbs.
    static func memoryLimit(v2: String?, v1: String?) -> Int? {
        guard let text = v2 ?? v1, let value = Int(text.trimmingSpaces()), value > 0 else { return nil }
        return value
    }
}
