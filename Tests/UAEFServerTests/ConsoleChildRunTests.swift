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
}
