#if canImport(Glibc)
    import Glibc
#endif

/// Cores this process may use: online CPUs, lowered by a cgroup v2 CPU quota (containers).
func defaultWorkerCount() -> Int {
    let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    guard let quota = cgroupCPUQuota() else { return online }
    return max(1, min(online, Int(quota.rounded(.up))))
}

/// `/sys/fs/cgroup/cpu.max` holds "max PERIOD" or "QUOTA PERIOD".
private func cgroupCPUQuota() -> Double? {
    guard let file = fopen("/sys/fs/cgroup/cpu.max", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let n = fread(&buffer, 1, buffer.count, file)
    let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), period > 0 else { return nil }
    return quota / period
}
