import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFServer
import UAEFTestSupport

@Suite("HTTP API on SQLite and on PostgreSQL")
struct BackendAPITests {
    @Test(
        "workflows, idempotent runs, pages, remote agents, secrets, metrics and proofs behave the same on either store",
        arguments: StoreBackend.allCases)
    func everyFamily(_ backend: StoreBackend) async throws {
        try await ServerHarness.start(
            secrets: try SecretBox(key: Array(repeating: 9, count: 32)), backend: backend
        ).serving { server in
            let admin = try await server.token("acme", [.admin])
            #expect(
                try await server.send(.POST, "/v1/workflows", token: admin, body: ServerHarness.helloWorkflow).status
                    == 201
            )
            let body = #"{"workflow": "hello", "inputs": {"who": "pg"}}"#
            let started = try await server.send(
                .POST, "/v1/runs", token: admin, body: body, headers: [("Idempotency-Key", "k")])
            let run = try #require(started["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: admin)["status"] == "succeeded")
            let again = try await server.send(
                .POST, "/v1/runs", token: admin, body: body, headers: [("Idempotency-Key", "k")])
            #expect(again.status == 200 && again["run_id"]?.stringValue == run)
            #expect(
                try await server.send(.GET, "/v1/runs?limit=1&workflow=hello", token: admin)["runs"]?.arrayValue?.count
                    == 1
            )

            let agents = "agents:\n  - {name: ocr, kind: remote, capabilities: [ocr], activate: true}\n"
            #expect(try await server.send(.POST, "/v1/agents", token: admin, body: agents).status == 201)
            let key = try #require(
                try await server.send(.POST, "/v1/agents/ocr/keys", token: admin)["key"]?.stringValue)
            let workflow = "name: scan\ntasks:\n  - id: read\n    capability: ocr\n    with: {page: 1}\n"
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            let scan = try #require(
                try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow": "scan"}"#)["run_id"]?
                    .stringValue)
            let claimed = try await server.send(.POST, "/v1/agents/me/claim?wait=10s", token: key)
            let task = try #require(claimed["task_id"]?.stringValue)
            let generation = try #require(claimed["generation"]?.numberValue?.intValue)
            #expect(
                try await server.send(
                    .POST, "/v1/agents/me/tasks/\(task)/complete", token: key,
                    body: #"{"generation": \#(generation), "output": {"text": "ok"}}"#
                ).status == 200)
            #expect(try await server.waitForRun(scan, token: admin)["status"] == "succeeded")

            #expect(try await server.send(.PUT, "/v1/secrets/s", token: admin, body: #"{"value": "v"}"#).status == 200)
            #expect(try await server.send(.GET, "/v1/secrets", token: admin)["secrets"]?.arrayValue?.count == 1)

            let metrics = try await server.send(.GET, "/metrics", token: admin)
            #expect(metrics.status == 200)
            #expect(OperationsTests.sample(metrics.body, #"uaef_runs{status="succeeded"}"#).map { $0 >= 2 } == true)
            #expect(OperationsTests.sample(metrics.body, "uaef_remote_tasks_queued") == 0)

            #expect(try await server.send(.GET, "/v1/ledger/checkpoint", token: admin).status == 200)
            let proof = try await server.send(.GET, "/v1/ledger/proofs/inclusion?index=0", token: admin)
            #expect(proof.status == 200 && proof["proof"]?.arrayValue != nil)
            #expect(try await server.send(.GET, "/readyz")["status"] == "ready")
        }
    }
}
