import Foundation
import OmniZipSynthetic
import OmniZipTestSupport
import Testing

/// Clients that go away or stop reading hold nothing others need.
@Suite("Abandoned and unread requests")
struct AbandonedJobTests {
    /// Polls `path` until `holds` its answer, for at most `seconds`.
    func poll(_ server: TestServer, _ path: String, seconds: Double, until holds: (RawClient.Response) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let raw = try? server.raw(timeout: 2), (try? raw.send(Raw.get(path, "Connection: close\r\n"))) != nil,
                let answer = try? raw.readResponse(), holds(answer)
            {
                return true
            }
            usleep(10_000)
        }
        return false
    }

    /// Until `queued` complete requests wait for a worker.
    func waitForQueued(_ server: TestServer, _ queued: Int, seconds: Double) -> Bool {
        poll(server, "/v1/info", seconds: seconds) { $0.json?["queued"] as? Int == queued }
    }

    /// Until `count` compressions have finished (the compress phase's count in /metrics).
    func waitForCompressions(_ server: TestServer, _ count: Int, seconds: Double) -> Bool {
        let series = #"omnizip_request_phase_duration_seconds_count{phase="compress"} "#
        return poll(server, "/metrics", seconds: seconds) { answer in
            let line = String(decoding: answer.body, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(series) }
            return line.flatMap { Int($0.dropFirst(series.count)) } == count
        }
    }

    /// The job of a client that reset after a whole request, waiting for a worker, goes with
    /// the admission ticket at once (its body, a stream's scratch). It used to stay queued,
    /// holding the body, until a worker reached it: 80 such clients took RSS from 501 MiB to
    /// 5 GiB under a 1 GiB budget.
    @Test("a queued job whose client went away is dropped while the worker is still busy")
    func queuedJobDroppedWithItsClient() async throws {
        try await offPool {
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
    }

    /// The admission ticket covers the work, not the flush of its answer: two clients that
    /// never read their (large) answers used to hold both `--max-inflight` slots until the idle
    /// timeout, and every other compression got 429 meanwhile.
    @Test("clients that do not read their answers hold no compute slot")
    func unreadAnswersHoldNoSlot() async throws {
        try await offPool {
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
    }
}
