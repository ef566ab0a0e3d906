import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFTestSupport

@Suite("Child runs over HTTP")
struct ChildRunRouteTests {
    /// The child workflow both server suites register: one echo task of its one input.
    static let child = """
        name: onboard
        inputs: {supplier: ""}
        tasks:
          - {id: check, agent: echo, with: {supplier: "${{ inputs.supplier }}"}}
        """

    @Test(
        "uaef serve executes a workflow task's child; GET /v1/runs?parent= lists it with its parent, for its tenant only; a caller's Idempotency-Key may not take UAEF's own namespaces"
    )
    func childRunsOverHTTP() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            let parent = """
                name: invoice
                tasks:
                  - {id: onboard, agent: workflow, with: {workflow: onboard, inputs: {supplier: ACME}}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: Self.child).status == 201)
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: parent).status == 201)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow":"invoice"}"#)["run_id"]?
                    .stringValue)
            let finished = try await server.waitForRun(run, token: admin)
            #expect(finished["status"] == "succeeded", "\(finished.body)")
            #expect(finished["parent"] == .null)
            let output = try #require(finished["tasks"]?["onboard"]?["output"])
            #expect(output["tasks"]?["check"] == ["supplier": "ACME"])

            let listed = try await server.send(.GET, "/v1/runs?parent=\(run)", token: admin)
            #expect(listed.status == 200)
            let children = listed["runs"]?.arrayValue ?? []
            #expect(children.count == 1)
            #expect(children.first?["run_id"] == output["run_id"])
            #expect(children.first?["parent"] == ["run_id": .string(run), "task": "onboard", "detached": false])
            let childID = try #require(output["run_id"]?.stringValue)
            #expect(
                try await server.send(.GET, "/v1/runs/\(childID)", token: admin)["parent"]?["run_id"] == .string(run))

            let stranger = try await server.token("globex", [.admin])
            #expect(try await server.send(.GET, "/v1/runs?parent=\(run)", token: stranger)["runs"] == [])

            for key in ["child:\(run)/onboard/1", "schedule:nightly:2026-12-05T00:00:00.000Z", "hook:orders:1"] {
                let refused = try await server.send(
                    .POST, "/v1/runs", token: admin, body: #"{"workflow":"onboard"}"#,
                    headers: [("Idempotency-Key", key)])
                #expect(refused.status == 400)
                #expect(
                    refused["detail"]?.stringValue?.contains(
                        "are UAEF's own (child runs, schedule slots, connector triggers)") == true, "\(refused.body)")
            }
        }
    }

    /// A parent that only starts a child running ten minutes, without waiting, and ends.
    static let starter = """
        name: starter
        tasks:
          - {id: kick, agent: workflow, with: {workflow: slow, wait: false}}
        """
    static let slow = """
        name: slow
        tasks:
          - {id: wait, agent: sleep, with: {duration: 10m}}
        """

    @Test(
        "POST /v1/runs/{id}/cancel with {\"tree\": true} cancels the children an ended parent started without waiting; a tree that is not a boolean is 422"
    )
    func cancelTreeOverHTTP() async throws {
        try await ServerHarness.start().serving { server in
            let admin = try await server.token("acme", [.admin])
            for workflow in [Self.slow, Self.starter] {
                #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            }
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow":"starter"}"#)["run_id"]?
                    .stringValue)
            #expect(try await server.waitForRun(run, token: admin)["status"] == "succeeded")
            let child = try #require(
                try await server.send(.GET, "/v1/runs?parent=\(run)", token: admin)["runs"]?.arrayValue?.first?[
                    "run_id"]?.stringValue)

            let invalid = try await server.send(.POST, "/v1/runs/\(run)/cancel", token: admin, body: #"{"tree":"yes"}"#)
            #expect(invalid.status == 422 && invalid["detail"] == "tree: must be true or false", "\(invalid.body)")
            let unknown = try await server.send(.POST, "/v1/runs/\(run)/cancel", token: admin, body: #"{"all":true}"#)
            #expect(unknown.status == 422, "\(unknown.body)")
            #expect(try await server.send(.GET, "/v1/runs/\(child)", token: admin)["cancel_requested"] != true)

            let cancelled = try await server.send(
                .POST, "/v1/runs/\(run)/cancel", token: admin, body: #"{"tree":true}"#)
            #expect(cancelled.status == 202 && cancelled["status"] == "succeeded", "\(cancelled.body)")
            #expect(try await server.waitForRun(child, token: admin)["status"] == "cancelled")
        }
    }
}
