import Foundation
import NIOHTTP1
import Testing
import UAEFCore
import UAEFTestSupport

/// Child runs on the console's run pages, over real HTTP on loopback.
@Suite("Console: child runs")
struct ConsoleChildRunTests {
    @Test("a parent's page lists the child runs its workflow tasks started, linked; a child's page names its parent")
    func childrenAndParent() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            let parent = """
                name: invoice
                tasks:
                  - {id: onboard, agent: workflow, for_each: [ACME, Globex], with: {workflow: onboard, inputs: {supplier: "${{ item }}"}}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", body: ChildRunRouteTests.child).status == 201)
            #expect(try await server.send(.POST, "/v1/workflows", body: parent).status == 201)
            let run = try #require(
                try await server.send(.POST, "/v1/runs", body: #"{"workflow":"invoice"}"#)["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let children = try await server.send(.GET, "/v1/runs?parent=\(run)")["runs"]?.arrayValue ?? []
            #expect(children.count == 2)

            let session = ConsoleSchedulesTests.session
            let page = try await server.send(.GET, "/runs/\(run)", headers: session)
            #expect(page.body.contains("<h2>Child runs</h2>"), "\(page.body)")
            for entry in children {
                let id = try #require(entry["run_id"]?.stringValue)
                let task = try #require(entry["parent"]?["task"]?.stringValue)
                #expect(
                    page.body.contains(
                        "<a class=\"mono\" href=\"/runs/\(id)\">\(id)</a></td><td>\(task)</td><td>onboard v1</td>"))
                let childPage = try await server.send(.GET, "/runs/\(id)", headers: session)
                #expect(
                    childPage.body.contains(
                        "<dt>Child of</dt><dd><a href=\"/runs/\(run)\">\(run)</a>, task \(task)</dd>"),
                    "\(childPage.body)")
                #expect(!childPage.body.contains("<h2>Child runs</h2>"))
                #expect(!childPage.body.contains("started without waiting"))
            }

            // A child started without waiting says so on both pages.
            let starter = """
                name: starter
                tasks:
                  - {id: kick, agent: workflow, with: {workflow: onboard, wait: false, inputs: {supplier: Initech}}}
                """
            #expect(try await server.send(.POST, "/v1/workflows", body: starter).status == 201)
            let started = try #require(
                try await server.send(.POST, "/v1/runs", body: #"{"workflow":"starter"}"#)["run_id"]?.stringValue)
            #expect(try await server.waitForRun(started, token: nil)["status"] == "succeeded")
            let detached = try #require(
                try await server.send(.GET, "/v1/runs?parent=\(started)")["runs"]?.arrayValue?.first?["run_id"]?
                    .stringValue)
            let starterPage = try await server.send(.GET, "/runs/\(started)", headers: session)
            #expect(starterPage.body.contains("<td>kick <span class=\"muted small\">without waiting</span></td>"))
            let detachedPage = try await server.send(.GET, "/runs/\(detached)", headers: session)
            #expect(
                detachedPage.body.contains("task kick (started without waiting: not cancelled with it)"),
                "\(detachedPage.body)")
        }
    }

    @Test(
        "a run with children offers a cancellation of the whole tree, also once it has ended; the form stops a child started without waiting"
    )
    func cancelTreeButton() async throws {
        try await ServerHarness.start(authenticated: false).serving { server in
            for workflow in [ChildRunRouteTests.slow, ChildRunRouteTests.starter] {
                #expect(try await server.send(.POST, "/v1/workflows", body: workflow).status == 201)
            }
            let run = try #require(
                try await server.send(.POST, "/v1/runs", body: #"{"workflow":"starter"}"#)["run_id"]?.stringValue)
            #expect(try await server.waitForRun(run, token: nil)["status"] == "succeeded")
            let child = try #require(
                try await server.send(.GET, "/v1/runs?parent=\(run)")["runs"]?.arrayValue?.first?["run_id"]?.stringValue
            )

            let session = ConsoleSchedulesTests.session
            let page = try await server.send(.GET, "/runs/\(run)", headers: session)
            #expect(page.body.contains("Cancel with every run below it"), "\(page.body)")
            #expect(!page.body.contains(">Cancel run<"), "the run itself has ended")
            let csrf = try #require(
                page.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" })
            let form = [("Content-Type", "application/x-www-form-urlencoded")] + session
            let posted = try await server.send(.POST, "/runs/\(run)/cancel", body: "csrf=\(csrf)&tree=1", headers: form)
            #expect(posted.status == 200 || posted.status == 303, "\(posted.body)")
            #expect(try await server.waitForRun(child, token: nil)["status"] == "cancelled")
        }
    }
}
