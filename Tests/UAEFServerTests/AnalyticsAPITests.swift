import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFTestSupport

@Suite("GET /v1/analytics on SQLite and on PostgreSQL")
struct AnalyticsAPITests {
    /// Polls `path` until `done` holds for its reply: the buckets are kept moments after events commit.
    func eventually(
        _ server: ServerHarness, _ path: String, token: String, _ done: (ServerHarness.Reply) -> Bool
    ) async throws -> ServerHarness.Reply {
        for _ in 0..<100 {
            let reply = try await server.send(.GET, path, token: token)
            if done(reply) { return reply }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await server.send(.GET, path, token: token)
    }

    @Test(
        "runs and attempts are counted by workflow and task with durations, for the caller's tenant only; bad queries are 400 naming the parameter",
        arguments: StoreBackend.allCases)
    func counts(_ backend: StoreBackend) async throws {
        try await ServerHarness.start(backend: backend).serving { server in
            let admin = try await server.token("acme", [.admin])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: admin, body: ServerHarness.helloWorkflow).status
                    == 201)
            for who in ["a", "b"] {
                let started = try await server.send(
                    .POST, "/v1/runs", token: admin, body: #"{"workflow": "hello", "inputs": {"who": "\#(who)"}}"#)
                let run = try #require(started["run_id"]?.stringValue)
                #expect(try await server.waitForRun(run, token: admin)["status"] == "succeeded")
            }
            let viewer = try await server.token("acme", [.viewer])
            let workflows = try await eventually(server, "/v1/analytics/workflows?days=1", token: viewer) {
                $0["series"]?.arrayValue?.first?["summary"]?["total"] == 2
            }
            #expect(workflows.status == 200)
            let summary = workflows["series"]?.arrayValue?.first?["summary"]
            #expect(
                workflows["series"]?.arrayValue?.first?["key"] == "hello" && summary?["succeeded"] == 2, "\(workflows)")
            #expect(summary?["success_rate"] == 1 && summary?["p95_ms"]?.numberValue != nil, "\(workflows)")
            #expect(
                workflows["interval"] == "hour" && workflows["overall"]?.arrayValue?.first?["summary"]?["total"] == 2)
            let tasks = try await server.send(.GET, "/v1/analytics/tasks?days=30&interval=day", token: viewer)
            let keys = tasks["series"]?.arrayValue?.compactMap { $0["key"]?.stringValue } ?? []
            #expect(!keys.isEmpty && keys.allSatisfy { $0.hasPrefix("hello/") }, "\(tasks)")
            #expect(tasks["series"]?.arrayValue?.first?["points"]?.arrayValue?.count == 1, "one day")

            let stranger = try await server.token("globex", [.admin])
            let theirs = try await server.send(.GET, "/v1/analytics/workflows?days=1", token: stranger)
            #expect(theirs.status == 200 && theirs["series"] == [], "another tenant counts nothing of acme's")

            for (query, parameter) in [
                ("days=0", "days=0"), ("days=401", "days=401"), ("interval=week", "interval=week"),
                ("days=15&interval=hour", "interval=hour"),
                ("limit=0", "limit=0"), ("to=yesterday", "to=yesterday"), ("after=", "after="),
            ] {
                let refused = try await server.send(.GET, "/v1/analytics/workflows?\(query)", token: viewer)
                #expect(refused.status == 400, "\(query)")
                #expect(refused["detail"]?.stringValue?.contains(parameter) == true, "\(refused)")
            }
            let unknown = try await server.send(.GET, "/v1/analytics/costs", token: viewer)
            #expect(unknown.status == 404 && unknown["detail"]?.stringValue?.contains("llm-costs") == true)
            #expect(try await server.send(.GET, "/v1/analytics/workflows", token: nil).status == 401)
        }
    }
}
