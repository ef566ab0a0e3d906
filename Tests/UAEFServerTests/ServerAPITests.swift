import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFStore

@Suite("HTTP API: workflows, runs, problems, over real HTTP on loopback")
struct ServerAPITests {
    @Test("health and readiness answer without a token; /v1 without one is a 401 problem with WWW-Authenticate")
    func healthAndAuthentication() async throws {
        try await ServerHarness.start().serving { server in
            #expect(try await server.send(.GET, "/healthz")["status"] == "ok")
            #expect(try await server.send(.GET, "/readyz")["status"] == "ready")
            let refused = try await server.send(.GET, "/v1/runs")
            #expect(refused.status == 401)
            #expect(refused.headers["Content-Type"].first == "application/problem+json")
            #expect(refused.headers["WWW-Authenticate"].first?.hasPrefix("Bearer") == true)
            #expect(refused["type"] == "https://uaef.dev/problems/unauthorized")
            #expect(refused["status"] == 401)
            let unknownRoute = try await server.send(
                .GET, "/v1/nothing-here", token: try await server.token("acme", [.admin]))
            #expect(unknownRoute.status == 404)
            #expect(unknownRoute["title"] == "Not Found")
        }
    }

    @Test(
        "registering a workflow numbers versions; the same source again is the same version; bad YAML changes nothing")
    func workflowRegistry() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            let first = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            #expect(first.status == 201)
            #expect(first["version"] == 1)
            #expect(first.headers["Location"].first == "/v1/workflows/hello")
            let again = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            #expect(again.status == 200)
            #expect(again["version"] == 1)
            let changed = ServerHarness.helloWorkflow.replacingOccurrences(of: "who: world", with: "who: everyone")
            #expect(try await server.send(.POST, "/v1/workflows", token: token, body: changed)["version"] == 2)

            let invalid = try await server.send(
                .POST, "/v1/workflows", token: token,
                body: ServerHarness.helloWorkflow.replacingOccurrences(of: "agent: echo", with: "agent: nonexistent"))
            #expect(invalid.status == 422)
            #expect(invalid["type"] == "https://uaef.dev/problems/validation-failed")
            let issue = invalid["errors"]?.arrayValue?.first?.objectValue
            #expect(issue?["field"] == "tasks[0].agent")
            #expect(issue?["line"] == 6)

            let shown = try await server.send(.GET, "/v1/workflows/hello", token: token)
            #expect(shown["version"] == 2)
            #expect(shown["source"]?.stringValue == changed)
            #expect(shown["versions"]?.arrayValue?.count == 2)
            #expect(
                try await server.send(.GET, "/v1/workflows/hello?version=1", token: token)["source"]?.stringValue
                    == ServerHarness.helloWorkflow)
            #expect(try await server.send(.GET, "/v1/workflows/hello?version=3", token: token).status == 404)
            let list = try await server.send(.GET, "/v1/workflows", token: token)
            #expect(list["workflows"]?.arrayValue?.map { $0.objectValue?["name"] } == ["hello"])
            // The registry is the tenant's own.
            let other = try await server.token("globex", [.operator])
            #expect(try await server.send(.GET, "/v1/workflows/hello", token: other).status == 404)
            #expect(try await server.send(.GET, "/v1/workflows", token: other)["workflows"] == [])
        }
    }

    @Test("a started run executes; the same Idempotency-Key and body return it, another body is a 409")
    func runsAndIdempotency() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)

            let body = #"{"workflow": "hello", "inputs": {"who": "api"}}"#
            let started = try await server.send(
                .POST, "/v1/runs", token: token, body: body, headers: [("Idempotency-Key", "k-1")])
            #expect(started.status == 201)
            let id = try #require(started["run_id"]?.stringValue)
            #expect(started.headers["Location"].first == "/v1/runs/\(id)")
            let ended = try await server.waitForRun(id, token: token)
            #expect(ended["status"] == "succeeded")
            #expect(ended["tasks"]?.objectValue?["greet"]?.objectValue?["output"] == ["message": "hello api"])

            let repeated = try await server.send(
                .POST, "/v1/runs", token: token, body: body, headers: [("Idempotency-Key", "k-1")])
            #expect(repeated.status == 200)
            #expect(repeated["run_id"]?.stringValue == id)
            let conflicting = try await server.send(
                .POST, "/v1/runs", token: token, body: #"{"workflow": "hello", "inputs": {"who": "else"}}"#,
                headers: [("Idempotency-Key", "k-1")])
            #expect(conflicting.status == 409)
            #expect(conflicting["type"] == "https://uaef.dev/problems/idempotency-key-reused")
            #expect(try await server.store.runs(tenant: "acme", matching: RunFilter(), limit: 10).count == 1)
        }
    }

    @Test("bad run requests name what is wrong and start nothing")
    func badRunRequests() async throws {
        try await ServerHarness.start(bodyLimit: 2048).serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            let cases: [(body: String, status: Int, detail: String)] = [
                ("not json", 400, "not JSON"),
                ("[1]", 400, "must be a JSON object"),
                (#"{"workflow": "nope"}"#, 404, "no workflow named 'nope'"),
                (#"{"workflow": "hello", "version": 4}"#, 404, "has no version 4"),
                (#"{"workflow": "hello", "inputs": {"whom": 1}}"#, 422, "unknown input 'whom'"),
                (#"{"workflow": "hello", "input": {}}"#, 422, "unknown member input"),
                (#"{"workflow": "hello", "version": "one"}"#, 422, "version: must be an integer"),
                (#"{"inputs": {}}"#, 422, "workflow: required"),
                (
                    #"{"workflow": "hello", "inputs": {"who": "\#(String(repeating: "x", count: 3000))"}}"#, 413,
                    "larger"
                ),
            ]
            for (body, status, detail) in cases {
                let reply = try await server.send(.POST, "/v1/runs", token: token, body: body)
                #expect(reply.status == status, "\(body.prefix(60))")
                #expect(reply["detail"]?.stringValue?.contains(detail) == true, "\(reply.body)")
                #expect(reply.headers["Content-Type"].first == "application/problem+json")
            }
            #expect(try await server.store.runs(tenant: "acme", matching: RunFilter(), limit: 10).isEmpty)
            let badQuery = try await server.send(.GET, "/v1/runs?status=done", token: token)
            #expect(badQuery.status == 400)
            #expect(badQuery["detail"]?.stringValue?.contains("succeeded") == true)
        }
    }

    @Test("runs are listed a page at a time by cursor, newest first, filtered by workflow and status")
    func runPages() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            var started: [String] = []
            for _ in 0..<5 {
                let reply = try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow": "hello"}"#)
                started.append(try #require(reply["run_id"]?.stringValue))
            }
            for id in started { _ = try await server.waitForRun(id, token: token) }
            var seen: [String] = []
            var path = "/v1/runs?limit=2&workflow=hello&status=succeeded"
            while true {
                let page = try await server.send(.GET, path, token: token)
                seen += page["runs"]?.arrayValue?.compactMap { $0.objectValue?["run_id"]?.stringValue } ?? []
                guard let cursor = page["next_cursor"]?.stringValue else { break }
                path = "/v1/runs?limit=2&workflow=hello&status=succeeded&cursor=\(cursor)"
            }
            #expect(seen == started.reversed())
            #expect(try await server.send(.GET, "/v1/runs?workflow=other", token: token)["runs"] == [])
        }
    }

    @Test(
        "include=task_counts counts each listed run's tasks by status, as its report lists them; another include is a 400"
    )
    func runTaskCounts() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            _ = try await server.send(.POST, "/v1/workflows", token: token, body: ServerHarness.helloWorkflow)
            for _ in 0..<2 {
                let reply = try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow": "hello"}"#)
                _ = try await server.waitForRun(try #require(reply["run_id"]?.stringValue), token: token)
            }
            let listed = try #require(
                try await server.send(.GET, "/v1/runs?include=task_counts", token: token)["runs"]?.arrayValue)
            #expect(listed.count == 2)
            for summary in listed {
                let id = try #require(summary["run_id"]?.stringValue)
                let tasks = try #require(
                    try await server.send(.GET, "/v1/runs/\(id)", token: token)["tasks"]?.objectValue)
                let counts = try #require(summary["task_counts"]?.objectValue)
                let total = JSONValue.number(Number(tasks.count))
                #expect(!tasks.isEmpty && counts["total"] == total && counts["ended"] == total)
                #expect(counts["succeeded"] == total && counts["pending"] == 0 && counts["retry_scheduled"] == 0)
                #expect(counts.count == TaskStatus.allCases.count + 2, "every status, then total and ended")
            }
            let plain = try await server.send(.GET, "/v1/runs", token: token)["runs"]?.arrayValue ?? []
            #expect(!plain.isEmpty && plain.allSatisfy { $0["task_counts"] == nil })
            let bad = try await server.send(.GET, "/v1/runs?include=tasks", token: token)
            #expect(bad.status == 400 && bad["detail"]?.stringValue?.contains("task_counts") == true)
        }
    }

    @Test("without authentication the server acts as admin of the default tenant, on loopback only")
    func unauthenticatedLoopback() async throws {
        try await ServerHarness.start(authenticated: false).serving { server async throws in
            #expect(try await server.send(.POST, "/v1/workflows", body: ServerHarness.helloWorkflow).status == 201)
            #expect(try await server.store.workflows(tenant: "default").map(\.name) == ["hello"])
            var open = ServerConfiguration()
            open.host = "0.0.0.0"
            #expect(throws: ServerConfiguration.Refusal.self) { try open.check() }
        }
    }
}
