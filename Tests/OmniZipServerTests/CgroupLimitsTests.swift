import Foundation
import OmniZipServer
import Testing

/// The worker and memory defaults follow a container's cgroup limits, v2 or v1, read from
/// sample cgroup folders.
@Suite("cgroup limits")
struct CgroupLimitsTests {
    /// A folder laid out like a cgroup mount with `files` (path -> content).
    func cgroup(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("omnizip-cgroup-\(UUID().uuidString)")
        for (path, content) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        return root.path
    }

    @Test(
        "CPU quota: v2 cpu.max, v1 cfs_quota_us / cfs_period_us (either mount name), none",
        arguments: [
            (["cpu.max": "150000 100000\n"], 1.5),
            (["cpu.max": "max 100000\n"], nil),
            (["cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"], 1.0),
            (["cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"], 0.5),
            (["cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"], nil),
            ([:], nil),
        ] as [([String: String], Double?)])
    func cpuQuota(files: [String: String], cpus: Double?) throws {
        let root = try cgroup(files)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CgroupLimits.read(root: root).cpus == cpus)
    }

    @Test(
        "memory: v2 memory.max, v1 memory.limit_in_bytes, none",
        arguments: [
            (["memory.max": "536870912\n"], 536_870_912),
            (["memory.max": "max\n"], nil),
            (["memory/memory.limit_in_bytes": "1073741824\n"], 1_073_741_824),
            ([:], nil),
        ] as [([String: String], Int?)])
    func memory(files: [String: String], bytes: Int?) throws {
        let root = try cgroup(files)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CgroupLimits.read(root: root).memoryBytes == bytes)
    }

    @Test("defaults: a quota of 1 CPU gives 1 worker, 1.5 gives 2, never more than the CPUs online; half the memory limit")
    func defaults() {
        let online = ServerConfiguration.defaultWorkers(limits: CgroupLimits())
        #expect(online >= 1)
        #expect(ServerConfiguration.defaultWorkers(limits: CgroupLimits(cpus: 1)) == 1)
        #expect(ServerConfiguration.defaultWorkers(limits: CgroupLimits(cpus: 1.5)) == min(2, online))
        #expect(ServerConfiguration.defaultWorkers(limits: CgroupLimits(cpus: 0.2)) == 1)
        #expect(ServerConfiguration.defaultWorkers(limits: CgroupLimits(cpus: 1000)) == online)
        #expect(ServerConfiguration.defaultBufferedBytes(limits: CgroupLimits(memoryBytes: 512 << 20)) == 256 << 20)
        #expect(ServerConfiguration.defaultBufferedBytes(limits: CgroupLimits(memoryBytes: 1 << 30)) == 512 << 20)
    }
}
