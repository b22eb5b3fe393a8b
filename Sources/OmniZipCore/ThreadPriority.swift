#if canImport(Glibc)
    import Glibc
#endif

/// Lowers the calling thread's scheduling priority. On Linux the nice value belongs to each
/// thread, and Dispatch reuses its threads, so this is idempotent and sticks to the thread.
public enum ThreadPriority {
    public static func lower(to niceness: Int32) {
        guard niceness > 0 else { return }
        #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }
}
