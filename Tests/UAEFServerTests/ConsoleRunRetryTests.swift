import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

/// The run page's retry button and its rerun from a chosen task, over real HTTP on loopback.
@Suite("Console: retrying a run")
struct ConsoleRunRetryTests {
    @Test(
        "a failed run's page offers the retry; the form (with its CSRF token) reopens the run, which the server finishes, and the page then shows it retried and offers a rerun from a chosen task"
    )
    func retryButton() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            let flag = server.location.directory.path("ready")
            let workflow = """
                name: flaky
                tasks:
                  - {id: post, agent: command, with: {command: [test, -f, "\(flag)"]}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", body: workflow).status == 201)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", body: #"{"workflow":"flaky"}"#)["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: nil)["status"] == "failed")

            let session = ConsoleSchedulesTests.session
            let page = try await server.send(.GET, "/runs/\(run)", headers: session)
            #expect(page.body.contains("action=\"/runs/\(run)/retry\""), "\(page.body)")
            let csrf = try #require(
                page.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" })
            let form = [("Content-Type", "application/x-www-form-urlencoded")] + session
            let forged = try await server.send(.POST, "/runs/\(run)/retry", body: "csrf=forged", headers: form)
            #expect(forged.status == 403)
            #expect(try await server.store.run(RunID(run), tenant: "default")?.retryCount == 0)

            _ = FileManager.default.createFile(atPath: flag, contents: Data())
            let retried = try await server.send(.POST, "/runs/\(run)/retry", body: "csrf=\(csrf)", headers: form)
            #expect(retried.status == 200, "\(retried.body)")
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let after = try await server.send(.GET, "/runs/\(run)", headers: session)
            #expect(after.body.contains("<dt>Retried</dt><dd>1×"), "\(after.body)")
            #expect(after.body.contains("</time> by api:"), "who retried it: \(after.body)")
            #expect(!after.body.contains("Retry from where it stopped"), "a succeeded run offers no retry")

            // A succeeded run is offered a rerun from a task chosen among its workflow's.
            #expect(after.body.contains("<select name=\"from\"><option>post</option></select>"), "\(after.body)")
            let rerun = try await server.send(
                .POST, "/runs/\(run)/retry", body: "csrf=\(csrf)&from=post", headers: form)
            #expect(rerun.status == 200, "\(rerun.body)")
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let record = try await server.store.run(RunID(run), tenant: "default")
            #expect(record?.retryCount == 2)
            let unknown = try await server.send(
                .POST, "/runs/\(run)/retry", body: "csrf=\(csrf)&from=nowhere", headers: form)
            #expect(unknown.status == 422 && unknown.body.contains("has no task nowhere"), "\(unknown.body)")
        }
    }
}
