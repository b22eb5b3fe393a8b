import Foundation
import OmniZipServer
import OmniZipTestSupport
import OmniZipWire
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Bodies passed as sealed memfds over the Unix socket (`application/vnd.omnizip.memfd`): the
/// same answers as ordinary bodies, and every hostile descriptor a 4xx or a clean close.
@Suite("Descriptor bodies over the Unix socket")
struct DescriptorBodyTests {
    static func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        try UnixSocketTests.unixOnly(configure)
    }

    /// One request with its body in a memfd (closed here once sent).
    static func viaMemfd(_ raw: RawClient, _ path: String, _ body: [UInt8], extra: String = "") throws -> RawClient.Response {
        let fd = try Memfd.make(body)
        defer { close(fd) }
        try raw.send(Memfd.head(path, length: body.count, extra: extra), descriptors: [fd])
        return try raw.readResponse()
    }

    @Test("every golden case through a memfd: parity, and the same bytes as an ordinary body")
    func goldenParity() async throws {
        let server = try Self.server()
        defer { server.shutdown() }
        try await EveryGoldenCase.expectNoProblems { name in
            var problems: [String] = []
            let request = try Golden.request(name)
            let raw = try server.rawUnix()
            let mapped = try Self.viaMemfd(raw, "/v1/compress", request)
            try raw.send(Raw.post("/v1/compress", request))
            let ordinary = try raw.readResponse()
            guard mapped.status == 200 else { return ["status \(mapped.status): \(String(decoding: mapped.body, as: UTF8.self))"] }
            if mapped.body != ordinary.body { problems.append("memfd and ordinary answers differ") }
            problems += try GoldenParity.mismatches(response: TensorBundle(mapped.body), expected: TensorBundle(Golden.expected(name)))
            if Golden.exactCases.contains(name) {
                let exact = try Self.viaMemfd(raw, "/v1/compress?video_budget=exact", request)
                problems += try GoldenParity.mismatches(
                    response: TensorBundle(exact.body), expected: TensorBundle(Golden.expected(name)),
                    exact: TensorBundle(Golden.expectedExact(name)))
            }
            return problems
        }
    }

    @Test(
        "compress (both answer types, embeds), score and explain answer a memfd as they answer the bytes",
        arguments: [
            ("/v1/compress", ""), ("/v1/compress", "Accept: application/json\r\n"), ("/v1/compress?return=embeds", ""),
            ("/v1/score", ""), ("/v1/score", "Accept: application/x-safetensors\r\n"), ("/v1/explain", ""),
        ])
    func sameAnswers(path: String, extra: String) async throws {
        try await offPool {
            let server = try Self.server()
            defer { server.shutdown() }
            let body = try Golden.smallest()
            let raw = try server.rawUnix()
            let mapped = try Self.viaMemfd(raw, path, body, extra: extra)
            try raw.send(Raw.post(path, body, extra: extra))
            let ordinary = try raw.readResponse()
            #expect(mapped.status == 200 && ordinary.status == 200)
            #expect(mapped.headers["content-type"] == ordinary.headers["content-type"])
            #expect(mapped.body == ordinary.body, "\(path) \(extra)")
        }
    }

    @Test("hostile descriptors are refused with a 4xx naming the problem", arguments: HostileDescriptor.allCases)
    func hostile(_ hostile: HostileDescriptor) async throws {
        try await offPool {
            let server = try Self.server()
            defer { server.shutdown() }
            let body = try Golden.smallest()
            let raw = try server.rawUnix()
            try hostile.send(raw, body: body)
            for status in hostile.answeredFirst { #expect(try raw.readResponse().status == status) }
            let answer = try raw.readResponse()
            let expected = hostile.expected
            #expect(answer.status == expected.status, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.errorCode == (expected.status == 413 ? "body_too_large" : "invalid_descriptor"))
            let message = ((answer.json?["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.contains(expected.says), "\(message)")
            #expect(answer.closes == expected.closes)
            if expected.closes {
                #expect(raw.closedByPeer())
            } else {
                // The connection still works: the framing never depended on the descriptor.
                let next = try Self.viaMemfd(raw, "/v1/compress", body)
                #expect(next.status == 200)
            }
        }
    }

    @Test(
        "a huge-page memfd (MFD_HUGETLB), its length rounded up to whole huge pages, answers as the bytes do",
        .enabled(if: Self.hugePagesTestable, Self.noHugePages))
    func hugePages() async throws {
        try await offPool {
            let server = try Self.server()
            defer { server.shutdown() }
            let body = try Golden.smallest()
            let raw = try server.rawUnix()
            let fd = try Memfd.makeHuge(body)
            defer { close(fd) }
            try raw.send(Memfd.head("/v1/compress", length: body.count), descriptors: [fd])
            let mapped = try raw.readResponse()
            try raw.send(Raw.post("/v1/compress", body))
            let ordinary = try raw.readResponse()
            #expect(mapped.status == 200, "\(String(decoding: mapped.body, as: UTF8.self))")
            #expect(mapped.body == ordinary.body)
            // A length past the last huge page does not round up to this memfd's size.
            var info = stat()
            fstat(fd, &info)
            try raw.send(Memfd.head("/v1/compress", length: Int(info.st_size) + 1), descriptors: [fd])
            let longer = try raw.readResponse()
            #expect(longer.status == 400)
            #expect(String(decoding: longer.body, as: UTF8.self).contains("a huge-page memfd for Omnizip-Memfd-Length"))
        }
    }

    /// Huge pages are the host's (vm.nr_hugepages): without a free one the test is skipped, but
    /// `make test` (as root it reserves them) sets OMNIZIP_REQUIRE_HUGE_PAGES=1 to fail instead.
    static let hugePagesTestable = Memfd.freeHugePages > 0 || ProcessInfo.processInfo.environment["OMNIZIP_REQUIRE_HUGE_PAGES"] == "1"
    static let noHugePages: Comment = "no free huge page on this host (vm.nr_hugepages)"

    @Test("the same memfd sent with two requests answers both, identically")
    func reused() async throws {
        try await offPool {
            let server = try Self.server()
            defer { server.shutdown() }
            let body = try Golden.smallest()
            let fd = try Memfd.make(body)
            defer { close(fd) }
            let first = try server.rawUnix(), second = try server.rawUnix()
            try first.send(Memfd.head("/v1/compress", length: body.count), descriptors: [fd])
            try second.send(Memfd.head("/v1/compress", length: body.count), descriptors: [fd])
            let a = try first.readResponse(), b = try second.readResponse()
            #expect(a.status == 200 && b.status == 200 && a.body == b.body)
        }
    }

    @Test("admission counts the mapping like a body: one that does not fit is a 429")
    func admissionCountsTheMapping() async throws {
        try await offPool {
            let body = try Golden.smallest()
            let server = try Self.server { $0.maxBufferedBytes = body.count - 1 }
            defer { server.shutdown() }
            let answer = try Self.viaMemfd(try server.rawUnix(), "/v1/compress", body)
            #expect(answer.status == 429 && answer.errorCode == "too_many_requests")
        }
    }

    @Test("/v1/info advertises memfd bodies only with a Unix-socket listener")
    func advertised() async throws {
        try await offPool {
            let unix = try Self.server()
            defer { unix.shutdown() }
            let raw = try unix.rawUnix()
            try raw.send(Raw.get("/v1/info"))
            #expect(try raw.readResponse().json?["features"] as? [String] == ["memfd-body"])
            let tcp = try TestServer()
            defer { tcp.shutdown() }
            let plain = try tcp.raw()
            try plain.send(Raw.get("/v1/info"))
            #expect(try plain.readResponse().json?["features"] as? [String] == [])
            // Over TCP nothing can carry the descriptor: the request says what is missing.
            try plain.send(Memfd.head("/v1/compress", length: 100))
            #expect(try plain.readResponse().errorCode == "invalid_descriptor")
        }
    }
}
