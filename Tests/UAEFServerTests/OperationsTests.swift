import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

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
        let server = try await ServerHarness.start()
        defer { Task { await server.stop() } }
        let admin = try await server.token("acme", [.admin])
        _ = try await server.send(.POST, "/v1/workflows", token: admin, body: ServerHarness.helloWorkflow)
        let run = try #require(
            try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow":"hello"}"#)["run_id"]?
                .stringValue)
        #expect(try await server.waitForRun(run, token: admin)["status"] == "succeeded")

        #expect(try await server.send(.GET, "/metrics").status == 401)
        #expect(
            try await server.send(.GET, "/metrics", token: try await server.token("acme", [.auditor])).status == 403)
        let reply = try await server.send(.GET, "/metrics", token: admin)
        #expect(reply.status == 200)
        #expect(reply.headers["Content-Type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = reply.body
        // The store gauges are this server's own, read at the scrape; the counters are process-wide.
        #expect(Self.sample(text, #"uaef_runs{status="succeeded"}"#).map { $0 >= 1 } == true, "\(text)")
        #expect(Self.sample(text, "uaef_ledger_size").map { $0 >= 5 } == true)
        #expect(
            Self.sample(text, #"uaef_task_attempts_total{kind="echo",outcome="succeeded"}"#).map { $0 >= 1 } == true)
        #expect(text.contains("uaef_attempt_duration_seconds_bucket"))
        #expect(
            Self.sample(
                text, #"hb_requests{http_route="/v1/runs",http_request_method="POST",http_response_status_code="201"}"#
            ).map { $0 >= 1 } == true)
    }
}
