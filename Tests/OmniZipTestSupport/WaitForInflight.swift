import Foundation

/// Polls /v1/info on `port` (for up to 10 s) until `count` requests are admitted (their
/// headers were parsed): the point where a test can act on a request in flight.
@discardableResult
public func waitForInflight(_ count: Int, port: Int) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if let raw = try? RawClient(port: port, timeout: 2), (try? raw.send(Raw.get("/v1/info", "Connection: close\r\n"))) != nil,
            let inflight = (try? raw.readResponse())?.json?["inflight"] as? Int, inflight == count
        {
            return true
        }
        usleep(20_000)
    }
    return false
}
