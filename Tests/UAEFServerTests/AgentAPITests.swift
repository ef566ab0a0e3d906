import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: agents")
struct AgentAPITests {
    static let agents = """
        agents:
          - name: summarizer
            kind: echo
            capabilities: [summarize]
            max_concurrency: 2
        """

    @Test("agents are registered from an agents document, activated, listed with metrics, and work runs by capability")
    func lifecycle() async throws {
        try await ServerHarness.start().serving { server in
            let token = try await server.token("acme", [.operator])
            let registered = try await server.send(.POST, "/v1/agents", token: token, body: Self.agents)
            #expect(registered.status == 201)
            let id = try #require(registered["agents"]?.arrayValue?.first?.objectValue?["id"]?.stringValue)
            #expect(registered["agents"]?.arrayValue?.first?.objectValue?["status"] == "registered")
            #expect(try await server.send(.POST, "/v1/agents", token: token, body: Self.agents).status == 422)

            #expect(try await server.send(.POST, "/v1/agents/summarizer/activate", token: token)["status"] == "active")
            let workflow = """
                name: digest
                tasks:
                  - id: sum
                    capability: summarize
                    with: {text: "long"}
                """
            #expect(try await server.send(.POST, "/v1/workflows", token: token, body: workflow).status == 201)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: token, body: #"{"workflow":"digest"}"#)["run_id"]?
                    .stringValue)
            let ended = try await server.waitForRun(run, token: token)
            #expect(ended["status"] == "succeeded")
            #expect(ended["tasks"]?.objectValue?["sum"]?.objectValue?["agent"]?.stringValue == id)

            let shown = try await server.send(.GET, "/v1/agents/\(id)", token: token)
            #expect(shown["metrics"]?.objectValue?["successes"] == 1)
            #expect(try await server.send(.GET, "/v1/agents", token: token)["agents"]?.arrayValue?.count == 1)
            #expect(try await server.send(.POST, "/v1/agents/summarizer/retire", token: token)["status"] == "retired")
            let refused = try await server.send(.POST, "/v1/agents/summarizer/activate", token: token)
            #expect(refused.status == 409)
            #expect(refused["detail"]?.stringValue?.contains("cannot go from retired") == true)

            let stranger = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/agents/\(id)", token: stranger).status == 404)
            #expect(try await server.send(.POST, "/v1/agents/summarizer/suspend", token: stranger).status == 404)
            let viewer = try await server.token("acme", [.viewer])
            #expect(try await server.send(.POST, "/v1/agents", token: viewer, body: Self.agents).status == 403)
        }
    }
}
