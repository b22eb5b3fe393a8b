import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Memfds for the descriptor-body tests: glibc has memfd_create, but Swift's Glibc module does
/// not declare it (it needs _GNU_SOURCE), so it is looked up by name.
public enum Memfd {
    public struct Seals: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let seal = Seals(rawValue: 0x1)
        public static let shrink = Seals(rawValue: 0x2)
        public static let grow = Seals(rawValue: 0x4)
        public static let write = Seals(rawValue: 0x8)
        public static let all: Seals = [.seal, .shrink, .grow, .write]
    }

    private typealias Create = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    private static let addSeals: Int32 = 1024 + 9 // F_ADD_SEALS
    private static let allowSealing: UInt32 = 0x2, closeOnExec: UInt32 = 0x1, hugeTLB: UInt32 = 0x4

    /// A memfd holding `bytes`, sealed with `seals`; the caller closes it.
    public static func make(_ bytes: [UInt8], seals: Seals = .all) throws -> Int32 {
        let fd = try create(allowSealing | closeOnExec)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            guard n > 0 else {
                close(fd)
                throw RawClient.Failure(description: "write: \(errno)")
            }
            written += n
        }
        return try seal(fd, seals)
    }

    /// A memfd in huge pages (MFD_HUGETLB) holding `bytes`, a whole number of huge pages long
    /// (hugetlbfs takes no other length, nor write(2): the bytes go in through a mapping),
    /// sealed. Fails where no huge page is free (`vm.nr_hugepages`). The caller closes it.
    public static func makeHuge(_ bytes: [UInt8]) throws -> Int32 {
        let fd = try create(allowSealing | closeOnExec | hugeTLB)
        var info = stat()
        fstat(fd, &info)
        let page = Int(info.st_blksize), size = (max(bytes.count, 1) + page - 1) / page * page
        guard ftruncate(fd, off_t(size)) == 0, let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            mapping != MAP_FAILED
        else {
            let error = errno
            close(fd)
            throw RawClient.Failure(description: "a huge-page memfd of \(size) bytes: errno \(error) (vm.nr_hugepages too low?)")
        }
        bytes.withUnsafeBytes { _ = memcpy(mapping, $0.baseAddress!, $0.count) }
        munmap(mapping, size)
        return try seal(fd, .all)
    }

    /// `fd` with `seals` added (none: as it is), or closed and an error.
    private static func seal(_ fd: Int32, _ seals: Seals) throws -> Int32 {
        if !seals.isEmpty, fcntl(fd, addSeals, seals.rawValue) != 0 {
            let error = errno
            close(fd)
            throw RawClient.Failure(description: "F_ADD_SEALS: \(error)")
        }
        return fd
    }

    private static func create(_ flags: UInt32) throws -> Int32 {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create") else {
            throw RawClient.Failure(description: "this libc has no memfd_create")
        }
        let fd = unsafeBitCast(symbol, to: Create.self)("omnizip-test", flags)
        guard fd >= 0 else { throw RawClient.Failure(description: "memfd_create(flags \(flags)): \(errno)") }
        return fd
    }

    /// Free huge pages of the default size on this host (`HugePages_Free` in /proc/meminfo).
    public static var freeHugePages: Int {
        guard let file = fopen("/proc/meminfo", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("HugePages_Free:") { return Int(text.dropFirst(15).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        }
        return 0
    }

    /// The request head that names a memfd of `length` bytes as the body of `path`.
    public static func head(_ path: String, length: Int, extra: String = "") -> [UInt8] {
        Array(
            ("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/vnd.omnizip.memfd\r\n"
                + "Omnizip-Memfd-Length: \(length)\r\nContent-Length: 0\r\n\(extra)\r\n").utf8)
    }

    /// Descriptors this process has open now (`/proc/self/fd`).
    public static func openDescriptors(of pid: Int32 = getpid()) -> Int {
        guard let dir = opendir("/proc/\(pid)/fd") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { count += 1 }
        }
        return pid == getpid() ? count - 1 : count // less the directory stream's own
    }
}

extension RawClient {
    /// Sends `bytes` in one sendmsg with `descriptors` attached (SCM_RIGHTS), then any rest.
    public func send(_ bytes: [UInt8], descriptors: [Int32]) throws {
        let header = MemoryLayout<cmsghdr>.size // already a multiple of size_t
        let data = descriptors.count * MemoryLayout<Int32>.size
        let space = header + ((data + 7) & ~7)
        var control = [UInt8](repeating: 0, count: space)
        control.withUnsafeMutableBytes { raw in
            let message = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
            message.pointee.cmsg_len = header + data
            message.pointee.cmsg_level = SOL_SOCKET
            message.pointee.cmsg_type = Int32(SCM_RIGHTS)
            for (i, fd) in descriptors.enumerated() { raw.storeBytes(of: fd, toByteOffset: header + 4 * i, as: Int32.self) }
        }
        var bytes = bytes
        let sent = bytes.withUnsafeMutableBytes { payload in
            control.withUnsafeMutableBytes { control in
                var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                return withUnsafeMutablePointer(to: &vector) { vector in
                    var message = msghdr()
                    message.msg_iov = vector
                    message.msg_iovlen = 1
                    message.msg_control = control.baseAddress
                    message.msg_controllen = control.count
                    return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
        guard sent >= 0 else { throw Failure(description: "sendmsg: \(String(cString: strerror(errno)))") }
        if sent < bytes.count { try send(Array(bytes[sent...])) }
    }
}
