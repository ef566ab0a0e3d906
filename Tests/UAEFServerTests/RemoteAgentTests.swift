import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: remote agents claim, heartbeat and complete work under leases")
struct RemoteAgentTests {
    static let agents = """
        agents:
          - {name: ocr, kind: remote, capabilities: [ocr], max_concurrency: 4, activate: true}
          - {name: other, kind: remote, capabilities: [translate], activate: true}
        """
    static let workflow = """
        name: scan
        tasks:
          - id: read
            capability: ocr
            with: {page: 7}
            retry: {max_attempts: 2, backoff: 10ms}
        """

    /// A server with the two remote agents and the workflow registered; returns the operator
    /// token and the API keys of `ocr` and `other`.
    func prepare(_ server: ServerHarness) async throws -> (token: String, key: String, otherKey: String) {
        let token = try await server.token("acme", [.operator])
        #expect(try await server.send(.POST, "/v1/agents", token: token, body: Self.agents).status == 201)
        #expect(try await server.send(.POST, "/v1/workflows", token: token, body: Self.workflow).status == 201)
        let key = try #require(try await server.send(.POST, "/v1/agents/ocr/keys", token: token)["key"]?.stringValue)
        let otherKey = try #require(
            try await server.send(.POST, "/v1/agents/other/keys", token: token)["key"]?.stringValue)
        #expect(key.hasPrefix("uaef_ak_"))
        return (token, key, otherKey)
    }

    @Test("a claimed task completes the run's attempt with its output; stale generations and strangers are refused")
    func claimAndComplete() async throws {
        try await ServerHarness.start().serving { server in
            let (token, key, otherKey) = try await prepare(server)
            #expect(try await server.send(.POST, "/v1/agents/me/claim", token: key).status == 204)

            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"scan"}"#)["run_id"]?
                    .stringValue
            )
            #expect(
                try await server.send(.POST, "/v1/agents/me/claim?wait=1s&capability=translate", token: key).status
                    == 204)
            let claimed = try await server.send(.POST, "/v1/agents/me/claim?wait=10s&capability=ocr", token: key)
            #expect(claimed.status == 200)
            #expect(claimed["capability"] == "ocr")
            let task = try #require(claimed["task_id"]?.stringValue)
            let generation = try #require(claimed["generation"]?.numberValue?.intValue)
            #expect(claimed["input"] == ["page": 7])
            #expect(claimed["run_id"]?.stringValue == run)
            #expect(claimed["idempotency_key"]?.stringValue == "\(run)/read/1")

            // Another agent's key cannot touch it, nor can a viewer.
            #expect(try await server.send(.POST, "/v1/agents/ocr/claim", token: otherKey).status == 403)
            #expect(
                try await server.send(
                    .POST, "/v1/agents/other/tasks/\(task)/complete", token: otherKey, body: #"{"generation": 1}"#
                ).status == 404)
            #expect(
                try await server.send(.POST, "/v1/agents/ocr/claim", token: try await server.token("acme", [.viewer]))
                    .status == 403)

            let beat = try await server.send(
                .POST, "/v1/agents/me/tasks/\(task)/heartbeat", token: key, body: #"{"generation": \#(generation)}"#)
            #expect(beat.status == 200)
            let stale = try await server.send(
                .POST, "/v1/agents/me/tasks/\(task)/complete", token: key,
                body: #"{"generation": \#(generation - 1), "output": {"text": "stale"}}"#)
            #expect(stale.status == 409)
            #expect(stale["type"] == "https://uaef.dev/problems/lease-lost")
            let done = try await server.send(
                .POST, "/v1/agents/me/tasks/\(task)/complete", token: key,
                body: #"{"generation": \#(generation), "output": {"text": "INVOICE 42"}}"#)
            #expect(done.status == 200)
            let ended = try await server.waitForRun(run, token: token)
            #expect(ended["status"] == "succeeded")
            #expect(ended["tasks"]?.objectValue?["read"]?.objectValue?["output"] == ["text": "INVOICE 42"])
            // A second completion of a finished task is refused.
            #expect(
                try await server.send(
                    .POST, "/v1/agents/me/tasks/\(task)/complete", token: key, body: #"{"generation": \#(generation)}"#
                ).status == 409)
        }
    }

    @Test("a lease not extended in time hands the task to the next claim; the first holder's completion gets 409")
    func leaseExpiry() async throws {
        // Six seconds: long enough that a loaded machine still asks again within the lease.
        try await ServerHarness.start(remoteLease: .seconds(6)).serving { server in
            let (token, key, _) = try await prepare(server)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"scan"}"#)["run_id"]?
                    .stringValue
            )
            let first = try await server.send(.POST, "/v1/agents/me/claim?wait=10s", token: key)
            let claimed = ContinuousClock.now
            let firstGeneration = try #require(first["generation"]?.numberValue?.intValue)
            // Nobody else gets it while the lease holds.
            #expect(try await server.send(.POST, "/v1/agents/me/claim", token: key).status == 204)
            try await Task.sleep(until: claimed + .milliseconds(6200))
            let second = try await server.send(.POST, "/v1/agents/me/claim?wait=5s", token: key)
            #expect(second["task_id"] == first["task_id"])
            let secondGeneration = try #require(second["generation"]?.numberValue?.intValue)
            #expect(secondGeneration == firstGeneration + 1)
            let task = try #require(first["task_id"]?.stringValue)
            let late = try await server.send(
                .POST, "/v1/agents/me/tasks/\(task)/complete", token: key, body: #"{"generation": \#(firstGeneration)}"#
            )
            #expect(late.status == 409)
            let failed = try await server.send(
                .POST, "/v1/agents/me/tasks/\(task)/fail", token: key,
                body: #"{"generation": \#(secondGeneration), "error": "page unreadable", "retryable": false}"#)
            #expect(failed.status == 200)
            let ended = try await server.waitForRun(run, token: token)
            #expect(ended["status"] == "failed")
            #expect(
                ended["tasks"]?.objectValue?["read"]?.objectValue?["error"]?.stringValue?.contains("page unreadable")
                    == true)
            #expect(ended["tasks"]?.objectValue?["read"]?.objectValue?["attempts"] == 1)
        }
    }
}
