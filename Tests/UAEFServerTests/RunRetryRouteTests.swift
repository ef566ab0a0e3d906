import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFServer
import UAEFTestSupport

@Suite("POST /v1/runs/{id}/retry over HTTP")
struct RunRetryRouteTests {
    @Test(
        "an operator retries a failed run: 202 with the run reopened, the server's runners finish it, and the ended run's cached report is replaced; other roles get 403, other tenants 404, a succeeded run 409 unless tasks are named to run again from, and a bad list of them 422"
    )
    func retryOverHTTP() async throws {
        try await ServerHarness.start().serving { server in
            let flag = server.location.directory.path("posted")
            let admin = try await server.token("acme", [.admin])
            let workflow = """
                name: flaky
                tasks:
                  - {id: fetch, agent: echo, with: {n: 1}}
                  - {id: post, agent: command, depends_on: [fetch], with: {command: [test, -f, "\(flag)"]}}
                  - {id: after, agent: echo, depends_on: [post], with: {done: true}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", token: admin, body: workflow).status == 201)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", token: admin, body: #"{"workflow":"flaky"}"#)["run_id"]?
                    .stringValue)
            let failed = try await server.waitForRun(run, token: admin)
            #expect(failed["status"] == "failed" && failed["retry_count"] == 0)
            // Read again: the ended run's report is now served from the cache.
            #expect(try await server.send(.GET, "/v1/runs/\(run)", token: admin).body == failed.body)

            let viewer = try await server.token("acme", [.viewer])
            let refused = try await server.send(.POST, "/v1/runs/\(run)/retry", token: viewer)
            #expect(refused.status == 403)
            let stranger = try await server.token("globex", [.admin])
            #expect(try await server.send(.POST, "/v1/runs/\(run)/retry", token: stranger).status == 404)
            #expect(try await server.send(.GET, "/v1/runs/\(run)", token: admin)["status"] == "failed")

            _ = FileManager.default.createFile(atPath: flag, contents: Data())
            let operatorToken = try await server.token("acme", [.operator], subject: "olga")
            let reopened = try await server.send(.POST, "/v1/runs/\(run)/retry", token: operatorToken)
            #expect(reopened.status == 202, "\(reopened.body)")
            #expect(reopened["retry_count"] == 1 && reopened["ended_at"] == .null && reopened["error"] == .null)
            #expect(reopened["tasks"]?["fetch"]?["status"] == "succeeded")

            let finished = try await server.waitForRun(run, token: admin)
            #expect(finished["status"] == "succeeded", "\(finished.body)")
            #expect(finished["tasks"]?["post"]?["attempts"] == 2)
            #expect(finished["tasks"]?["fetch"]?["attempts"] == 1)
            #expect(finished["tasks"]?["after"]?["status"] == "succeeded")

            let again = try await server.send(.POST, "/v1/runs/\(run)/retry", token: operatorToken)
            #expect(again.status == 409)
            #expect(again["type"] == "https://uaef.dev/problems/run-not-retryable")
            #expect(
                again["detail"]?.stringValue?.contains("succeeded: it can only be run again from tasks you name")
                    == true)
            #expect(try await server.send(.POST, "/v1/runs/run_unknown/retry", token: admin).status == 404)

            // Named tasks: refused with 422 when the body or a name is wrong, nothing changed.
            let invalid: [(String, String)] = [
                (#"{"from":"post"}"#, "from: must be a list of at most 100 task ids"),
                (#"{"from":[""]}"#, "from: must be a list"),
                (#"{"from":[1]}"#, "from: must be a list"),
                (#"{"to":["post"]}"#, "the retry request has unknown member to; accepted: from"),
                (
                    #"{"from":["pots"]}"#,
                    "has no task pots to run again from; its workflow's tasks are fetch, post, after"
                ),
            ]
            for (body, detail) in invalid {
                let response = try await server.send(.POST, "/v1/runs/\(run)/retry", token: operatorToken, body: body)
                #expect(
                    response.status == 422 && response["detail"]?.stringValue?.contains(detail) == true,
                    "\(body): \(response.body)")
            }
            #expect(try await server.send(.GET, "/v1/runs/\(run)", token: admin)["retry_count"] == 1)
            // A succeeded run run again from a named task: it and what follows it run again.
            let rerun = try await server.send(
                .POST, "/v1/runs/\(run)/retry", token: operatorToken, body: #"{"from":["post"]}"#)
            #expect(rerun.status == 202, "\(rerun.body)")
            #expect(rerun["retry_count"] == 2 && rerun["tasks"]?["fetch"]?["status"] == "succeeded")
            let rerunFinished = try await server.waitForRun(run, token: admin)
            #expect(rerunFinished["status"] == "succeeded", "\(rerunFinished.body)")
            #expect(
                rerunFinished["tasks"]?["post"]?["attempts"] == 3 && rerunFinished["tasks"]?["after"]?["attempts"] == 2)
            #expect(rerunFinished["tasks"]?["fetch"]?["attempts"] == 1)

            // The run's event stream goes past its first ending, through the retry, to its last.
            let events = try await server.send(.GET, "/v1/runs/\(run)/events", token: admin).body
            let types = events.split(separator: "\n").filter { $0.hasPrefix("event: run.") }.map { $0.dropFirst(7) }
            #expect(
                types == [
                    "run.created", "run.started", "run.failed", "run.retried", "run.succeeded", "run.retried",
                    "run.succeeded",
                ])
            #expect(events.contains(#""actor":"api:olga""#))
        }
    }
}
