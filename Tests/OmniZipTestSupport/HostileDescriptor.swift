#if canImport(Glibc)
    import Glibc
#endif

/// Descriptor bodies a client may get wrong or send to hurt: each sends its request, and says
/// what the server answers (status, part of the message) and whether it closes the connection.
public enum HostileDescriptor: String, CaseIterable, Sendable {
    case unsealed, shrinkable, growable, writable, unsealable, regularFile, directory, pipe, socket, devZero
    case declaredLarger, declaredSmaller, noDescriptor, descriptorWithOrdinaryBody, descriptorWithProbe
    case sixteenDescriptors, descriptorWithBodyBytes, overBodyLimit

    /// The statuses answered before the refusal (the request the stray descriptor rode on).
    public var answeredFirst: [Int] { self == .descriptorWithBodyBytes ? [200] : [] }

    /// Which substring the error message has, and whether the server closes the connection.
    public var expected: (status: Int, says: String, closes: Bool) {
        switch self {
        case .unsealed, .shrinkable, .growable, .writable, .unsealable: (400, "not sealed against change", false)
        case .regularFile: (400, "regular file, not a memfd", false)
        case .directory: (400, "a directory", false)
        case .pipe: (400, "a pipe", false)
        case .socket: (400, "a socket", false)
        case .devZero: (400, "a character device", false)
        case .declaredLarger, .declaredSmaller: (400, "Omnizip-Memfd-Length says", false)
        case .noDescriptor: (400, "no file descriptor came", false)
        case .descriptorWithOrdinaryBody: (400, "Content-Type is not application/vnd.omnizip.memfd", false)
        case .descriptorWithProbe: (400, "which takes none", false)
        case .sixteenDescriptors: (400, "16 file descriptors came with one request", true)
        case .descriptorWithBodyBytes: (400, "came with bytes that were not a request's head", true)
        case .overBodyLimit: (413, "exceed the limit", false)
        }
    }

    /// Sends the case on `raw` (descriptors made here are closed here).
    public func send(_ raw: RawClient, body: [UInt8]) throws {
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        func memfd(_ seals: Memfd.Seals = .all) throws -> Int32 {
            let fd = try Memfd.make(body, seals: seals)
            opened.append(fd)
            return fd
        }
        func file(_ path: String, _ flags: Int32 = O_RDONLY) -> Int32 {
            let fd = open(path, flags | O_CLOEXEC)
            opened.append(fd)
            return fd
        }
        let head = Memfd.head("/v1/compress", length: body.count)
        switch self {
        case .unsealed: try raw.send(head, descriptors: [memfd([])])
        case .shrinkable: try raw.send(head, descriptors: [memfd([.seal, .grow, .write])])
        case .growable: try raw.send(head, descriptors: [memfd([.seal, .shrink, .write])])
        case .writable: try raw.send(head, descriptors: [memfd([.seal, .shrink, .grow])])
        case .unsealable: try raw.send(head, descriptors: [memfd([.shrink, .grow, .write])])
        case .regularFile: try raw.send(head, descriptors: [file(Golden.requestURL(Golden.cases[0]).path)])
        case .directory: try raw.send(head, descriptors: [file("/tmp", O_RDONLY | O_DIRECTORY)])
        case .pipe:
            var ends: [Int32] = [0, 0]
            _ = Glibc.pipe(&ends)
            opened += ends
            try raw.send(head, descriptors: [ends[0]])
        case .socket:
            let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            opened.append(fd)
            try raw.send(head, descriptors: [fd])
        case .devZero: try raw.send(Memfd.head("/v1/compress", length: 0), descriptors: [file("/dev/zero")])
        case .declaredLarger: try raw.send(Memfd.head("/v1/compress", length: body.count + 1), descriptors: [memfd()])
        case .declaredSmaller: try raw.send(Memfd.head("/v1/compress", length: body.count - 8), descriptors: [memfd()])
        case .noDescriptor: try raw.send(head)
        case .descriptorWithOrdinaryBody: try raw.send(Raw.post("/v1/compress", body), descriptors: [memfd()])
        case .descriptorWithProbe: try raw.send(Array(Raw.get("/livez").utf8), descriptors: [memfd()])
        case .sixteenDescriptors: try raw.send(head, descriptors: (0..<16).map { _ in try memfd() })
        case .descriptorWithBodyBytes:
            // The interim answer shows the head parsed before the body and descriptor come.
            try raw.send(Raw.postHead("/v1/compress", length: body.count, extra: "Expect: 100-continue\r\n"))
            guard try raw.readResponse().status == 100 else { throw RawClient.Failure(description: "no 100 Continue") }
            try raw.send(body, descriptors: [memfd()])
        case .overBodyLimit: try raw.send(Memfd.head("/v1/compress", length: 1 << 40), descriptors: [memfd()])
        }
    }
}
