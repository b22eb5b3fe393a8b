#if canImport(Glibc)
    import Glibc
#endif

/// A whole file mapped read-only: requests are parsed in place, never copied.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let length: Int

    init(path: String) throws(CLIError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CLIError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CLIError("cannot stat '\(path)': \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CLIError("'\(path)' is not a regular file") }
        length = Int(info.st_size)
        if length == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw CLIError("cannot map '\(path)': \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: length)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), length) }
    }
}

/// Writes bytes to a file (or stdout for "-"), replacing it atomically via a temporary name.
/// `mkdir -p` of the folder `path` goes into, so `-o out/x.safetensors` works in a fresh clone.
private func makeParentDirectories(of path: String) throws(CLIError) {
    for slash in path.indices.dropFirst() where path[slash] == "/" {
        let folder = String(path[..<slash])
        if mkdir(folder, 0o755) != 0, errno != EEXIST {
            throw CLIError("cannot create the folder '\(folder)': \(String(cString: strerror(errno)))")
        }
    }
}

func writeFile(_ bytes: [UInt8], to path: String) throws(CLIError) {
    if path == "-" {
        try writeAll(bytes, fd: STDOUT_FILENO, name: "stdout")
        return
    }
    try makeParentDirectories(of: path)
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CLIError("cannot create '\(path)': \(String(cString: strerror(errno)))") }
    do {
        try writeAll(bytes, fd: fd, name: path)
    } catch {
        close(fd)
        unlink(temporary)
        throw error
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
        unlink(temporary)
        throw CLIError("cannot write '\(path)': \(String(cString: strerror(errno)))")
    }
}

private func writeAll(_ bytes: [UInt8], fd: Int32, name: String) throws(CLIError) {
    var offset = 0
    let failure: String? = bytes.withUnsafeBytes { raw in
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += n
        }
        return nil
    }
    if let failure { throw CLIError("cannot write '\(name)': \(failure)") }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
