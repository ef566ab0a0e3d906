import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

@testable import UAEFServer

@Suite("HTTP API: metrics")
struct OperationsTests {
    /// The value of a sample line `name{labels} value` in Prometheus text, or nil.
    static func sample(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.flatMap {
            Double($0.split(separator: " ").last!)
        }
    }

    @Test("/metrics needs an admin token and exports request, attempt and store figures in Prometheus text")
    func metrics() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            _ = try await server.send(.POST, "/v1/workflows", token: admin, body: ServerHarness.helloWorkflow)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow":"hello"}"#)["run_id"]?
                    .stringValue)
            #expect(try await server.waitForRun(run, token: admin)["status"] == "succeeded")

            #expect(try await server.send(.GET, "/metrics").status == 401)
            #expect(
                try await server.send(.GET, "/metrics", token: try await server.token("acme", [.auditor])).status == 403
            )
            let reply = try await server.send(.GET, "/metrics", token: admin)
            #expect(reply.status == 200)
            #expect(reply.headers["Content-Type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = reply.body
            // The store gauges are this server's own, read at the scrape; the counters are process-wide.
            #expect(Self.sample(text, #"uaef_runs{status="succeeded"}"#).map { $0 >= 1 } == true, "\(text)")
            #expect(Self.sample(text, "uaef_ledger_size").map { $0 >= 5 } == true)
            #expect(
                Self.sample(text, #"uaef_task_attempts_total{kind="echo",outcome="succeeded"}"#).map { $0 >= 1 } == true
            )
            #expect(text.contains("uaef_attempt_duration_seconds_bucket"))
            #expect(
                Self.sample(
                    text,
                    #"hb_requests{http_route="/v1/runs",http_request_method="POST",http_response_status_code="201"}"#
                ).map { $0 >= 1 } == true)
        }
    }
}

@Suite("HTTP API: limits")
struct LimitTests {
    @Test("a principal past its rate gets 429 with Retry-After; another principal is not held back")
    func rateLimit() async throws {
        // A request every hundred seconds, a burst of one: a loaded machine cannot stretch the
        // gap between two requests enough to earn a second.
        try await ServerHarness.start(rateLimit: 0.01).serving { server in
            let busy = try await server.token("acme", [.viewer], subject: "busy")
            #expect(try await server.send(.GET, "/v1/workflows", token: busy).status == 200)
            let limited = try await server.send(.GET, "/v1/workflows", token: busy)
            #expect(limited.status == 429)
            #expect(limited.headers["Retry-After"].first.flatMap(Int.init).map { (1...100).contains($0) } == true)
            #expect(limited["type"] == "https://uaef.dev/problems/rate-limited")
            let calm = try await server.token("acme", [.viewer], subject: "calm")
            #expect(try await server.send(.GET, "/v1/workflows", token: calm).status == 200)
        }
    }

    @Test("the token bucket allows bursts of its size and refills at its rate")
    func tokenBucket() {
        let limiter = RateLimiter(rate: 10, burst: 20)
        let start = ContinuousClock.now
        for _ in 0..<20 { #expect(limiter.take("a", now: start) == nil) }
        let wait = limiter.take("a", now: start)
        #expect(wait.map { abs($0 - 0.1) < 1e-9 } == true, "one token takes a tenth of a second")
        #expect(limiter.take("a", now: start + .milliseconds(100)) == nil)
        #expect(limiter.take("a", now: start + .milliseconds(100)) != nil)
        #expect(limiter.take("b", now: start) == nil, "buckets are per key")
        for _ in 0..<20 { #expect(limiter.take("a", now: start + .seconds(60)) == nil) }
        #expect(limiter.take("a", now: start + .seconds(60)) != nil, "idle time refills only up to the burst")
    }

    @Test("CORS headers only for the configured origin")
    func cors() async throws {
        try await ServerHarness.start().serving { plain in
            let token = try await plain.token("acme", [.viewer])
            #expect(
                try await plain.send(.GET, "/v1/workflows", token: token, headers: [("Origin", "https://app.example")])
                    .headers["Access-Control-Allow-Origin"].isEmpty)
            try await ServerHarness.start(corsOrigin: "https://app.example").serving { open in
                let token2 = try await open.token("acme", [.viewer])
                let reply = try await open.send(
                    .GET, "/v1/workflows", token: token2, headers: [("Origin", "https://app.example")])
                #expect(reply.headers["Access-Control-Allow-Origin"].first == "https://app.example")
            }
        }
    }
}

@Suite("HTTP API: secrets")
struct SecretAPITests {
    @Test("admins set, list and delete secrets; values never come back; operators may not; without a master key, 409")
    func secrets() async throws {
        try await ServerHarness.start(secrets: try SecretBox(key: Array(repeating: 7, count: 32))).serving { server in
            let admin = try await server.token("acme", [.admin])
            let set = try await server.send(
                .PUT, "/v1/secrets/erp-password", token: admin, body: #"{"value": "hunter2-but-longer"}"#)
            #expect(set.status == 200)
            #expect(!set.body.contains("hunter2"))
            #expect(
                try await server.store.secret(named: "erp-password", tenant: "acme")?.sealed.contains("hunter2")
                    == false)
            let list = try await server.send(.GET, "/v1/secrets", token: admin)
            #expect(list["secrets"]?.arrayValue?.map { $0.objectValue?["name"] } == ["erp-password"])
            #expect(!list.body.contains("hunter2"))
            let operatorToken = try await server.token("acme", [.operator])
            #expect(
                try await server.send(.PUT, "/v1/secrets/x", token: operatorToken, body: #"{"value": "v"}"#).status
                    == 403)
            #expect(
                try await server.send(.GET, "/v1/secrets", token: try await server.token("globex", [.admin]))["secrets"]
                    == [])
            #expect(
                try await server.send(.PUT, "/v1/secrets/bad%20name", token: admin, body: #"{"value": "v"}"#).status
                    == 422)
            #expect(try await server.send(.DELETE, "/v1/secrets/erp-password", token: admin).status == 204)
            #expect(try await server.send(.DELETE, "/v1/secrets/erp-password", token: admin).status == 404)

            try await ServerHarness.start().serving { keyless in
                let refused = try await keyless.send(
                    .PUT, "/v1/secrets/x", token: try await keyless.token("acme", [.admin]), body: #"{"value": "v"}"#)
                #expect(refused.status == 409)
                #expect(refused["type"] == "https://uaef.dev/problems/no-master-key")
            }
        }
    }
}
