import Foundation
import OmniZipCore
import OmniZipServer
import OmniZipTestSupport
import Testing

@Suite("Ops endpoints, request ids, metrics and logs")
struct OpsEndpointTests {
    let client = HTTPClient()

    @Test func probesAnswerJSON() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        for path in ["/livez", "/healthz", "/readyz"] {
            let reply = try await client.get(server.url(path))
            #expect(reply.status == 200, "\(path)")
            #expect(reply.header("Content-Type") == "application/json")
            #expect(reply.json?["status"] != nil)
        }
    }

    @Test func requestIDIsEchoedOrGenerated() async throws {
        let server = try TestServer()
        defer { server.shutdown() }
        let echoed = try await client.send(server.url("/livez"), headers: ["X-Request-Id": "trace-42.abc"])
        #expect(echoed.header("X-Request-Id") == "trace-42.abc")
        let a = try await client.get(server.url("/livez")).header("X-Request-Id") ?? ""
        let b = try await client.get(server.url("/livez")).header("X-Request-Id") ?? ""
        #expect(a.count == 16 && b.count == 16 && a != b)
        #expect(a.allSatisfy { $0.isHexDigit })
        // Not echoed when it could not be safely put in a header or a log line.
        let long = try await client.send(server.url("/livez"), headers: ["X-Request-Id": String(repeating: "x", count: 300)])
        #expect(long.header("X-Request-Id")?.count == 16)
        // Error bodies carry the same id.
        let missing = try await client.send(server.url("/nope"), headers: ["X-Request-Id": "abc"])
        #expect(missing.error?["request_id"] as? String == "abc")
    }

    @Test func infoReportsVersionDefaultsAndLimits() async throws {
        let server = try TestServer {
            $0.workers = 3
            $0.maxInflight = 5
            $0.maxBodyBytes = 12345
            $0.version = "9.9.9"
        }
        defer { server.shutdown() }
        let json = try #require(try await client.get(server.url("/v1/info")).json)
        #expect(json["version"] as? String == "9.9.9")
        #expect(json["workers"] as? Int == 3)
        #expect(json["kernels"] as? String == KernelPath.current)
        let limits = try #require(json["limits"] as? [String: Any])
        #expect(limits["max_inflight"] as? Int == 5)
        #expect(limits["max_body_bytes"] as? Int == 12345)
        #expect(limits["request_timeout_seconds"] as? Double == 30)
        let settings = try #require(json["settings"] as? [String: Any])
        #expect(settings["workers"] as? Int == 3 && settings["max-inflight"] as? Int == 5 && settings["max-body-bytes"] as? Int == 12345)
        let defaults = try #require(json["defaults"] as? [String: Any])
        #expect(defaults["rho_audio"] as? Double == 0.3)
        #expect(defaults["g"] as? Int == 3)
        let models = try #require(json["models"] as? [String: [String: Any]])
        #expect(Set(models.keys) == ["qwen2.5-omni", "qwen3-omni"])
        #expect(models["qwen3-omni"]?["rho_audio"] as? Double == 0.4 && models["qwen3-omni"]?["audio_token_id"] as? Int == 151_675)
        #expect(models["qwen2.5-omni"]?["rho_video"] as? Double == defaults["rho_video"] as? Double)
    }

    @Test func metricsExposePrometheusText() async throws {
        let body = try Golden.smallest()
        let server = try TestServer()
        defer { server.shutdown() }
        #expect(try await client.post(server.url("/v1/compress"), body).status == 200)
        #expect(try await client.get(server.url("/missing")).status == 404)
        let reply = try await client.get(server.url("/metrics"))
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = String(decoding: reply.body, as: UTF8.self)
        for needle in [
            #"omnizip_http_request_duration_seconds_bucket{endpoint="/v1/compress",status="200",le="0.001"}"#,
            #"omnizip_http_request_duration_seconds_count{endpoint="/v1/compress",status="200"} 1"#,
            #"omnizip_http_request_duration_seconds_count{endpoint="unmatched",status="404"} 1"#,
            #"omnizip_tokens_total{modality="audio",stage="in"}"#, #"omnizip_tokens_total{modality="video",stage="kept"}"#,
            #"omnizip_http_requests_rejected_total{reason="not_found"} 1"#,
            "omnizip_http_requests_inflight 0", "omnizip_http_connections",
            #"omnizip_request_phase_duration_seconds_count{phase="compress"} 1"#,
        ] {
            #expect(text.contains(needle), "missing \(needle)")
        }
    }

    @Test func oneJSONLogLinePerRequest() async throws {
        let server = try TestServer()
        _ = try await client.send(server.url("/livez"), headers: ["X-Request-Id": "log-me"])
        server.shutdown()
        let lines = server.logLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == server.logLines.count, "every line is one JSON object")
        #expect(lines.first?["msg"] as? String == "listening")
        #expect(lines.first?["port"] as? Int == server.port)
        let requests = lines.filter { $0["msg"] as? String == "request" }
        #expect(requests.count == 1)
        let line = try #require(requests.first)
        #expect(line["method"] as? String == "GET")
        #expect(line["path"] as? String == "/livez")
        #expect(line["status"] as? Int == 200)
        #expect(line["request_id"] as? String == "log-me")
        #expect((line["bytes_in"] as? Int ?? 0) > 0)
        #expect((line["bytes_out"] as? Int ?? 0) > 0)
        #expect(line["duration_ms"] is Double || line["duration_ms"] is Int)
        #expect(lines.last?["msg"] as? String == "stopped")
    }

    @Test("the request line says why: the error code at warning for a 4xx, the query, and a compression's counts and phases")
    func requestLinesSayWhy() async throws {
        let server = try TestServer()
        let body = try Golden.request("public-027-s2-p20-d16")
        let ok = try await client.post(server.url("/v1/compress?rho_audio=0.2&video_budget=exact"), body)
        let bad = try await client.post(server.url("/v1/compress?rho_audio=2"), body)
        server.shutdown()
        #expect(ok.status == 200 && bad.status == 400)
        let requests = server.logLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["msg"] as? String == "request" && $0["path"] as? String == "/v1/compress" }
        let success = try #require(requests.first { $0["status"] as? Int == 200 })
        #expect(success["level"] as? String == "info")
        #expect(success["query"] as? String == "rho_audio=0.2&video_budget=exact")
        // The counts the response itself reports.
        let answer = try TensorBundle([UInt8](ok.body)).metadata
        #expect(success["kept"] as? Int == answer["kept"].flatMap(Int.init) && success["tokens"] as? Int == answer["total"].flatMap(Int.init))
        #expect(success["kept_audio"] as? String == "\(answer["kept_audio"] ?? "?")/\(answer["total_audio"] ?? "?")")
        #expect(success["compress_ms"] is Double || success["compress_ms"] is Int)
        #expect(success["error"] == nil)
        let failure = try #require(requests.first { $0["status"] as? Int == 400 })
        #expect(failure["level"] as? String == "warning" && failure["error"] as? String == "invalid_parameter")
        #expect(failure["query"] as? String == "rho_audio=2" && failure["kept"] == nil)
    }
}
