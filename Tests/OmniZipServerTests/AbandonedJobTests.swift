import Foundation
import OmniZipSynthetic
import OmniZipTestSupport
import Testing

/// Clients that go away or stop reading hold nothing others need.
@Suite("Abandoned and unread requests")
struct AbandonedJobTests {
    /// Polls /v1/info until `queued` jobs wait, for at most `seconds`.
    func waitForQueued(_ server: TestServer, _ queued: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let raw = try? server.raw(timeout: 2), (try? raw.send(Raw.get("/v1/info", "Connection: close\r\n"))) != nil,
                (try? raw.readResponse())?.json?["queued"] as? Int == queued
            {
                return true
            }
            usleep(10_000)
        }
        return false
    }

    /// The job of a client that reset after a whole request, waiting for a worker, goes with
    /// the admission ticket at once (its body, a stream's scratch). It used to stay queued,
    /// holding the body, until a worker reached it: 80 such clients took RSS from 501 MiB to
    /// 5 GiB under a 1 GiB budget.
    @Test("a queued job whose client went away is dropped while the worker is still busy")
    func queuedJobDroppedWithItsClient() throws {
        let server = try TestServer {
            $0.workers = 1
            $0.maxInflight = 8
        }
        defer { server.shutdown() }
        // About two seconds of work for the one worker in a debug build (more under TSan).
        let blocker = SyntheticClip(chunks: 12, dimension: 2048).requestBody(elementType: .bfloat16)
        let busy = try server.raw(timeout: 120)
        try busy.send(Raw.post("/v1/compress", blocker))
        let small = try Golden.smallest()
        let waiting = try (0..<3).map { _ in try server.raw() }
        for raw in waiting { try raw.send(Raw.post("/v1/compress", small)) }
        #expect(waitForQueued(server, 3, seconds: 30), "three complete requests wait behind the busy worker")
        for raw in waiting { raw.reset() }
        // Well before the busy job can end: the queue empties as the resets arrive.
        #expect(waitForQueued(server, 0, seconds: 0.5), "the abandoned jobs left the queue at once")
        #expect(server.waitForInflight(1))
        #expect(try busy.readResponse().status == 200)
        #expect(server.waitForInflight(0))
    }

    /// The admission ticket covers the work, not the flush of its answer: two clients that
    /// never read their (large) answers used to hold both `--max-inflight` slots until the idle
    /// timeout, and every other compression got 429 meanwhile.
    @Test("clients that do not read their answers hold no compute slot")
    func unreadAnswersHoldNoSlot() throws {
        let server = try TestServer {
            $0.workers = 1
            $0.maxInflight = 2
        }
        defer { server.shutdown() }
        // return=embeds answers of about 8 MB into a 4 KB receive window: more than the
        // kernel's send buffer (at most 4 MiB here) takes, so never flushed.
        let body = SyntheticClip(chunks: 4, dimension: 8192).requestBody(elementType: .bfloat16)
        let readers = try (0..<2).map { _ in try server.raw(receiveBuffer: 4096) }
        for raw in readers { try raw.send(Raw.post("/v1/compress?return=embeds", body)) }
        #expect(waitForCompressions(server, 2, seconds: 30), "both unread answers were computed")
        let good = try server.raw()
        try good.send(Raw.post("/v1/compress", try Golden.smallest()))
        let answer = try good.readResponse()
        #expect(answer.status == 200, "HTTP \(answer.status): \(answer.errorCode ?? "")")
        for raw in readers { raw.reset() }
        #expect(server.waitForInflight(0))
    }

    /// Polls /metrics until `count` compressions have finished (the compress phase's count).
    func waitForCompressions(_ server: TestServer, _ count: Int, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        let series = #"omnizip_request_phase_duration_seconds_count{phase="compress"} "#
        while Date() < deadline {
            if let raw = try? server.raw(timeout: 2), (try? raw.send(Raw.get("/metrics", "Connection: close\r\n"))) != nil,
                let text = (try? raw.readResponse()).map({ String(decoding: $0.body, as: UTF8.self) }),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series) }),
                Int(line.dropFirst(series.count)) == count
            {
                return true
            }
            usleep(20_000)
        }
        return false
    }
}
