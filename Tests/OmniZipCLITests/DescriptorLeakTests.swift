import Foundation
import OmniZipTestSupport
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Descriptor bodies leave nothing open in the server: its `/proc/<pid>/fd` count is the same
/// after 10,000 hostile, valid and abandoned ones as before (a process of its own, so the test
/// runner's descriptors do not count).
@Suite("omnizip serve: descriptor bodies leak nothing", .requires(OmniZipBinary.prerequisite))
struct DescriptorLeakTests {
    @Test func tenThousandRequestsLeaveTheDescriptorCountUnchanged() throws {
        let path = "/tmp/omnizip-leak-\(getpid()).sock"
        let served = try ServedProcess(OmniZipBinary.url, arguments: ["--unix-socket", path, "--workers", "2"])
        defer {
            kill(served.process.processIdentifier, SIGTERM)
            _ = served.exitStatus()
        }
        let pid = served.process.processIdentifier
        let body = try Golden.smallest()
        // One answered request first: whatever the server opens once (pools, logs) is open.
        let warm = try RawClient(unixSocket: path)
        let fd = try Memfd.make(body)
        try warm.send(Memfd.head("/v1/compress", length: body.count), descriptors: [fd])
        close(fd)
        #expect(try warm.readResponse().status == 200)
        let before = Self.settledCount(pid, above: 0)
        let cases = HostileDescriptor.allCases
        var statuses: [Int: Int] = [:]
        var answered = 0, abandoned = 0
        for i in 0..<10_000 {
            let raw = try RawClient(unixSocket: path)
            switch i % (cases.count + 2) {
            case cases.count:
                // A client that goes away mid-request, its descriptor sent.
                let memfd = try Memfd.make(body)
                try raw.send(Array(Memfd.head("/v1/compress", length: body.count).dropLast(2)), descriptors: [memfd])
                close(memfd)
                raw.reset()
                abandoned += 1
            case cases.count + 1:
                let memfd = try Memfd.make(body)
                try raw.send(Memfd.head("/v1/compress", length: body.count), descriptors: [memfd])
                close(memfd)
                statuses[try raw.readResponse().status, default: 0] += 1
                answered += 1
            case let c:
                try cases[c].send(raw, body: body)
                for _ in cases[c].answeredFirst { _ = try raw.readResponse() }
                statuses[try raw.readResponse().status, default: 0] += 1
                answered += 1
            }
        }
        #expect(answered + abandoned == 10_000)
        #expect(statuses.keys.allSatisfy { (200..<500).contains($0) }, "\(statuses)")
        #expect(statuses[200, default: 0] == answered / (cases.count + 1))
        #expect(before > 0)
        #expect(Self.settledCount(pid, above: before) == before, "statuses \(statuses)")
    }

    /// The server's descriptor count once connections closing in the background are closed
    /// (polled for up to 10 s while it is above `above`).
    static func settledCount(_ pid: Int32, above: Int) -> Int {
        var count = Memfd.openDescriptors(of: pid)
        for _ in 0..<500 where count > above {
            usleep(20_000)
            count = Memfd.openDescriptors(of: pid)
        }
        return count
    }
}
