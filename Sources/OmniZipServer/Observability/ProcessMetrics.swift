#if canImport(Glibc)
    import Glibc
#endif
import Prometheus

/// The standard `process_*` metrics every Prometheus exporter offers (CPU seconds, memory,
/// descriptors, start time), read from /proc at each scrape.
final class ProcessMetrics {
    private let cpu: Prometheus.Counter
    private let resident: Prometheus.Gauge
    private let virtual: Prometheus.Gauge
    private let openFDs: Prometheus.Gauge
    private let maxFDs: Prometheus.Gauge
    private var cpuSecondsSeen = 0.0

    init(registry: PrometheusCollectorRegistry) {
        func family(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        cpu = registry.makeCounter(descriptor: family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."))
        resident = registry.makeGauge(descriptor: family("process_resident_memory_bytes", "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: family("process_virtual_memory_bytes", "Virtual memory size in bytes."))
        openFDs = registry.makeGauge(descriptor: family("process_open_fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: family("process_max_fds", "Maximum number of open file descriptors."))
        let start = registry.makeGauge(
            descriptor: family("process_start_time_seconds", "Start time of the process since unix epoch in seconds."))
        if let stat = Self.stat(), let boot = Self.bootTime() {
            start.set(to: boot + stat.startTicks / Self.ticksPerSecond)
        }
        refresh()
    }

    /// Reads /proc now; the CPU counter only ever grows.
    func refresh() {
        if let stat = Self.stat() {
            let seconds = stat.cpuTicks / Self.ticksPerSecond
            if seconds > cpuSecondsSeen {
                cpu.increment(by: seconds - cpuSecondsSeen)
                cpuSecondsSeen = seconds
            }
        }
        if let pages = Self.statm() {
            let page = Double(sysconf(Int32(_SC_PAGESIZE)))
            virtual.set(to: pages.size * page)
            resident.set(to: pages.resident * page)
        }
        openFDs.set(to: Double(Self.openDescriptors()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(to: Double(limit.rlim_cur)) }
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime, and starttime, in clock ticks (proc(5): fields 14, 15 and 22; the
    /// command name before them is in parentheses and may hold spaces).
    private static func stat() -> (cpuTicks: Double, startTicks: Double)? {
        guard let text = KernelFile.firstLine("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]) else {
            return nil
        }
        return (user + system, start)
    }

    private static func statm() -> (size: Double, resident: Double)? {
        guard let fields = KernelFile.firstLine("/proc/self/statm")?.split(separator: " "), fields.count >= 2,
            let size = Double(fields[0]), let resident = Double(fields[1])
        else { return nil }
        return (size, resident)
    }

    /// Seconds since the epoch at boot (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        guard let file = fopen("/proc/stat", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("btime ") { return Double(text.dropFirst(6).filter { !$0.isNewline }) }
        }
        return nil
    }

    private static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != 0x2E { count += 1 } // not "." or ".."
        }
        return max(0, count - 1) // the directory's own descriptor
    }
}
