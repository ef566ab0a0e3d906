import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer

@Suite("HTTP API: workflow templates")
struct TemplateAPITests {
    static let agents = """
        agents:
          - {name: classifier, kind: echo, capabilities: [docs.classify], activate: true,
             config: {answer: {category: contract, confidence: 0.4}}}
          - {name: router, kind: echo, capabilities: [document.route], activate: true}
        """

    @Test(
        "readers list and read templates; operators make workflows from them (a dry run first), which then run; bad requests are 422 and register nothing; other tenants see nothing"
    )
    func templates() async throws {
        try await ServerHarness.start().serving { server in
            let viewer = try await server.token("acme", [.viewer])
            let listed = try await server.send(.GET, "/v1/templates", token: viewer)
            #expect(listed.status == 200)
            #expect(listed["templates"]?.arrayValue?.count == 4)
            let shown = try await server.send(.GET, "/v1/templates/document-triage", token: viewer)
            #expect(
                shown["parameters"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.first == "classify_capability")
            #expect(shown["source"]?.stringValue?.contains("template: document-triage") == true)
            #expect(try await server.send(.GET, "/v1/templates/nope", token: viewer).status == 404)
            let use =
                #"{"name": "contracts", "parameters": {"classify_capability": "docs.classify", "min_confidence": 0.5}}"#
            #expect(
                try await server.send(.POST, "/v1/templates/document-triage/workflows", token: viewer, body: use).status
                    == 403)

            let operatorToken = try await server.token("acme", [.operator], subject: "olga")
            let unregistered = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken, body: use)
            #expect(unregistered.status == 422, "capabilities no agent offers are refused")
            #expect(unregistered["detail"]?.stringValue?.contains("docs.classify") == true)
            #expect(try await server.send(.POST, "/v1/agents", token: operatorToken, body: Self.agents).status == 201)

            let preview = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken,
                body: #"{"name": "contracts", "parameters": {"classify_capability": "docs.classify"}, "dry_run": true}"#
            )
            #expect(preview.status == 200, "\(preview.body)")
            #expect(preview["registered"] == nil)
            #expect(preview["source"]?.stringValue?.contains("capability: \"docs.classify\"") == true)
            #expect(try await server.send(.GET, "/v1/workflows", token: viewer)["workflows"] == [])

            let made = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken, body: use)
            #expect(made.status == 201, "\(made.body)")
            #expect(made.headers["Location"] == ["/v1/workflows/contracts"])
            #expect(made["registered"]?["version"] == 1 && made["registered"]?["created_by"] == "api:olga")
            #expect(made["template"]?["parameters"]?["min_confidence"] == .number(Number(parsing: "0.5")!))
            let again = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken, body: use)
            #expect(again.status == 200 && again["registered"]?["created"] == false)

            // The workflow runs like any other: a 0.4-sure answer waits for review at 0.5.
            let started = try await server.send(
                .POST, "/v1/runs", token: operatorToken,
                body: #"{"workflow": "contracts", "inputs": {"document": "NDA"}}"#)
            let run = try #require(started["run_id"]?.stringValue)
            let approvals = try await Self.waitForApprovals(server, token: viewer)
            #expect(approvals.first?["role"] == "operations")
            #expect(approvals.first?["run_id"]?.stringValue == run)

            for (body, detail) in [
                (#"{"parameters": {"min_confidence": 2, "colour": "red"}}"#, "min_confidence"),
                (#"{"parameters": {"categories": ["only-one"]}}"#, "categories"),
                (#"{"name": "bad name"}"#, "not a workflow name"),
                (#"{"parameters": "x"}"#, "parameters: expected an object"),
                (#"{"dry_run": "yes"}"#, "dry_run"),
                (#"{"params": {}}"#, "unknown member params"),
                (#"{"parameters": {"reviewer_role": "${{ inputs.document }}"}}"#, "may not hold ${{"),
            ] {
                let refused = try await server.send(
                    .POST, "/v1/templates/document-triage/workflows", token: operatorToken, body: body)
                #expect(refused.status == 422, "\(body)")
                #expect(refused["detail"]?.stringValue?.contains(detail) == true, "\(body): \(refused.body)")
            }
            #expect(try await server.send(.GET, "/v1/workflows", token: viewer)["workflows"]?.arrayValue?.count == 1)

            // A name another workflow has is refused unless replace is set.
            #expect(
                try await server.send(.POST, "/v1/workflows", token: operatorToken, body: ServerHarness.helloWorkflow)
                    .status == 201)
            let taken = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken,
                body: #"{"name": "hello", "parameters": {"classify_capability": "docs.classify"}}"#)
            #expect(taken.status == 409)
            #expect(taken["detail"]?.stringValue?.contains("was not made from template document-triage") == true)
            let replaced = try await server.send(
                .POST, "/v1/templates/document-triage/workflows", token: operatorToken,
                body: #"{"name": "hello", "parameters": {"classify_capability": "docs.classify"}, "replace": true}"#)
            #expect(replaced.status == 201 && replaced["registered"]?["version"] == 2, "\(replaced.body)")
            #expect(
                try await server.send(.POST, "/v1/templates/nope/workflows", token: operatorToken, body: "[").status
                    == 404)

            let stranger = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/workflows/contracts", token: stranger).status == 404)
            #expect(try await server.send(.GET, "/v1/templates", token: stranger)["templates"]?.arrayValue?.count == 4)
        }
    }

    static func waitForApprovals(_ server: ServerHarness, token: String) async throws -> [JSONValue] {
        for _ in 0..<500 {
            let approvals = try await server.send(.GET, "/v1/approvals", token: token)["approvals"]?.arrayValue ?? []
            if !approvals.isEmpty { return approvals }
            try await Task.sleep(for: .milliseconds(20))
        }
        return []
    }
}
