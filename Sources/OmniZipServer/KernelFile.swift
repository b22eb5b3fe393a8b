#if canImport(Glibc)
    import Glibc
#endif

/// The files the kernel keeps about this process (/proc, /sys/fs/cgroup): one short line each.
enum KernelFile {
    /// The first line of `path` without its newline (at most 1 KiB), or nil when unreadable.
    static func firstLine(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        return String(cString: buffer).filter { !$0.isNewline }
    }
}
