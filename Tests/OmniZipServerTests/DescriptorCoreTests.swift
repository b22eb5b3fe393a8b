import Testing

@testable import OmniZipServer

#if canImport(Glibc)
    import Glibc
#endif

/// Which request a received descriptor belongs to, decided by the core alone: bytes and
/// descriptors in, answers out. A descriptor is closed when its object goes, so "closed" is
/// checked as "released" (a weak reference gone), which no reuse of the number can fake.
@Suite("Connection core: descriptors received with the bytes")
struct DescriptorCoreTests {
    let harness = CoreHarness()
    var handler: FakeHandler { harness.handler }

    /// A descriptor of this process's own (a duplicate of stderr), owned by the result.
    static func descriptor() -> ReceivedDescriptor { ReceivedDescriptor(taking: dup(2)) }

    static let memfdHead =
        "POST /v1/compress HTTP/1.1\r\nContent-Type: application/vnd.omnizip.memfd\r\nOmnizip-Memfd-Length: 10\r\nContent-Length: 0\r\n\r\n"

    @Test("a descriptor that came with the first part of a head is that head's")
    func splitHead() {
        let head = Self.memfdHead
        harness.send(String(head.prefix(20)), descriptors: [Self.descriptor()])
        harness.send(String(head.dropFirst(20)))
        #expect(handler.descriptorsAtHead == [0: 1])
    }

    @Test("a read ending a request's body and holding the next head gives the descriptor to that head")
    func pipelinedBehindABody() {
        harness.send("POST /v1/compress HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
        harness.send("cd" + Self.memfdHead, descriptors: [Self.descriptor()])
        #expect(handler.descriptorsAtHead == [0: 0, 1: 1])
    }

    @Test("a second descriptor for one head fails it and closes the connection; both are closed")
    func twoForOneHead() {
        weak var first: ReceivedDescriptor?, second: ReceivedDescriptor?
        do {
            let a = Self.descriptor(), b = Self.descriptor()
            first = a
            second = b
            harness.send(String(Self.memfdHead.prefix(10)), descriptors: [a])
            harness.send(String(Self.memfdHead.dropFirst(10).prefix(10)), descriptors: [b])
        }
        #expect(first == nil && second == nil)
        #expect(harness.written.map(\.status) == [400] && harness.written.first?.closing == true)
        #expect(harness.written.first?.message.contains("2 file descriptors came with one request") == true)
    }

    @Test("a descriptor with a body's last bytes: that request is answered, then the connection is refused and closed")
    func withBodyBytes() {
        weak var probe: ReceivedDescriptor?
        do {
            let d = Self.descriptor()
            probe = d
            harness.send("POST /v1/compress HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
            harness.send("cd", descriptors: [d])
        }
        #expect(probe == nil)
        #expect(harness.written.map(\.status) == [200, 400])
        #expect(harness.written.last?.closing == true && harness.written.last?.errorCode == "invalid_descriptor")
    }

    @Test("a descriptor with a request that takes none is refused and closed; the connection stays")
    func withAProbe() {
        weak var probe: ReceivedDescriptor?
        do {
            let d = Self.descriptor()
            probe = d
            harness.send("GET /livez HTTP/1.1\r\n\r\n", descriptors: [d])
        }
        #expect(probe == nil)
        #expect(harness.written.map(\.status) == [400] && harness.written.first?.closing == false)
        harness.send("GET /livez HTTP/1.1\r\n\r\n")
        #expect(harness.written.map(\.status) == [400, 200])
    }

    /// Found by FuzzConnectionCore: a 415 decided before the descriptor rules kept it open
    /// until the exchange went.
    @Test("a descriptor with a request refused for any reason is closed with the answer")
    func refusedEarlier() {
        weak var probe: ReceivedDescriptor?
        do {
            let d = Self.descriptor()
            probe = d
            harness.send("POST /v1/compress HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", descriptors: [d])
        }
        #expect(harness.written.map(\.status) == [415])
        #expect(probe == nil)
    }

    @Test("a memfd request whose descriptor never came is refused; the connection stays")
    func missing() {
        harness.send(Self.memfdHead)
        #expect(harness.written.map(\.status) == [400] && harness.written.first?.closing == false)
        #expect(harness.written.first?.message.contains("no file descriptor came") == true)
    }

    @Test("descriptors still waiting for a head are closed with the connection")
    func closedWithTheConnection() {
        weak var probe: ReceivedDescriptor?
        do {
            let d = Self.descriptor()
            probe = d
            harness.send("POST /v1/comp", descriptors: [d])
        }
        #expect(probe != nil, "held for the head")
        _ = harness.core.closed()
        #expect(probe == nil)
    }
}
