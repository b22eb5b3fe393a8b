import CLinux
#if canImport(Glibc)
    import Glibc
#endif
import OmniZipWire

/// Maps a received memfd read-only after checking that nobody can change it under us: a memfd
/// the client could still shrink would fault the worker reading it (SIGBUS), one it could still
/// write to would change the bytes while they are compressed. Only all four seals make it
/// immutable, and only memfds take them, so the check is the seals, the type and the size.
enum SealedMemfd {
    // <fcntl.h>'s Linux-specific values (F_LINUX_SPECIFIC_BASE + 10, and the seal bits).
    static let getSeals: Int32 = 1024 + 10
    static let seals: [(bit: Int32, name: String)] = [(0x1, "F_SEAL_SEAL"), (0x2, "F_SEAL_SHRINK"), (0x4, "F_SEAL_GROW"), (0x8, "F_SEAL_WRITE")]

    typealias Refusal = DescriptorBody.Refusal

    static func map(_ descriptor: ReceivedDescriptor, length: Int) -> Result<ByteBuffer, Refusal> {
        var info = stat()
        guard fstat(descriptor.fd, &info) == 0 else { return refuse("the file descriptor cannot be inspected (\(errnoText()))") }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else { return refuse("the file descriptor is \(describe(kind)), not a sealed memfd") }
        let present = fcntl(descriptor.fd, getSeals)
        guard present >= 0 else { return refuse("the file descriptor is a regular file, not a memfd (it takes no seals)") }
        let missing = seals.filter { present & $0.bit == 0 }.map(\.name)
        guard missing.isEmpty else {
            return refuse(
                "the memfd is not sealed against change: \(missing.joined(separator: ", ")) missing; "
                    + "seal it with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL before sending")
        }
        // A memfd in huge pages (MFD_HUGETLB) can only be a whole number of them long.
        let padded = isHugeTLB(descriptor.fd) ? roundUp(length, to: Int(info.st_blksize)) : length
        guard Int(info.st_size) == padded else {
            return refuse(
                padded == length
                    ? "the memfd holds \(info.st_size) bytes and Omnizip-Memfd-Length says \(length)"
                    : "the memfd holds \(info.st_size) bytes; a huge-page memfd for Omnizip-Memfd-Length \(length) holds \(padded)")
        }
        guard length > 0 else { return .success(ByteBuffer(capacity: 0)!) }
        guard let base = mmap(nil, padded, PROT_READ, MAP_SHARED, descriptor.fd, 0), base != MAP_FAILED else {
            if errno == ENOMEM {
                return .failure(Refusal(status: 503, code: .insufficientMemory, message: "cannot map the memfd's \(length) bytes"))
            }
            return refuse("the memfd cannot be mapped for reading (\(errnoText()))")
        }
        return .success(ByteBuffer(mapping: base, length: length, mappedBytes: padded))
    }

    /// For a request whose body is a descriptor (`Router` set `descriptorLength`): its mapping
    /// becomes the body, or the request is refused. False for any other request.
    static func attachBody(to exchange: Exchange) -> Bool {
        guard let length = exchange.descriptorLength, let descriptor = exchange.descriptors.first else { return false }
        exchange.descriptors = []
        switch map(descriptor, length: length) {
        case let .success(mapping): exchange.body = mapping
        case let .failure(refusal):
            exchange.rejectError(refusal.status, refusal.code, refusal.message, headers: refusal.status == 503 ? [("Retry-After", "1")] : [])
        }
        return true
    }

    /// Whether `fd` lives on hugetlbfs (its st_blksize is then the huge page size).
    private static func isHugeTLB(_ fd: Int32) -> Bool { omnizip_is_hugetlbfs(fd) == 1 }

    private static func roundUp(_ n: Int, to unit: Int) -> Int {
        unit > 1 ? (n + unit - 1) / unit * unit : n
    }

    private static func refuse(_ message: String) -> Result<ByteBuffer, Refusal> {
        .failure(Refusal(status: 400, code: .invalidDescriptor, message: message))
    }

    private static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFIFO: "a pipe"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
