import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("uaef runs retry (real processes, a real SQLite file)")
struct RunRetryCLITests {
    @Test(
        "a failed run retried from the command line finishes with what succeeded kept; exit 1 when it fails again, 2 for a run that cannot be retried or does not exist, --detach leaves it to uaef resume, and --from runs a succeeded run again from a task"
    )
    func retryFromTheCommandLine() throws {
        let directory = try TemporaryDirectory("cli-retry")
        defer { directory.remove() }
        let flag = directory.path("ready")
        let workflow = directory.path("flaky.yaml")
        try """
        name: flaky
        tasks:
          - {id: fetch, agent: echo, with: {n: 1}}
          - {id: post, agent: command, depends_on: [fetch], with: {command: [test, -f, "\(flag)"]}}
        """.write(toFile: workflow, atomically: true, encoding: .utf8)
        let store = ["--store", "sqlite:s.db"]
        let first = try UAEFProcess.run(["run", workflow, "--json"] + store, in: directory.url)
        #expect(first.status == 1)
        let id = try #require(try first.json()["run_id"]?.stringValue)

        // Still failing: exit 1, the failed task ran once more.
        let again = try UAEFProcess.run(["runs", "retry", id, "--json"] + store, in: directory.url)
        #expect(again.status == 1, "\(again.stderr)")
        #expect(try again.json()["tasks"]?["post"]?["attempts"] == 2)
        #expect(try again.json()["retry_count"] == 1)

        _ = FileManager.default.createFile(atPath: flag, contents: Data())
        let detached = try UAEFProcess.run(["runs", "retry", id, "--detach", "--json"] + store, in: directory.url)
        #expect(detached.status == 0, "\(detached.stderr)")
        #expect(
            try detached.json() == ["run_id": .string(id), "status": "running", "retry_count": 2, "tasks": ["post"]])
        let resumed = try UAEFProcess.run(["resume"] + store, in: directory.url)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let shown = try UAEFProcess.run(["runs", "show", id, "--json"] + store, in: directory.url)
        #expect(try shown.json()["status"] == "succeeded")
        #expect(try shown.json()["tasks"]?["fetch"]?["attempts"] == 1)

        let refused = try UAEFProcess.run(["runs", "retry", id] + store, in: directory.url)
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains("succeeded: it can only be run again from tasks you name (uaef runs retry --from"),
            "\(refused.stderr)")
        #expect(!refused.stderr.contains("Fatal error"))

        // A succeeded run run again from a task: it and what follows it run again, exit 0.
        let rerun = try UAEFProcess.run(["runs", "retry", id, "--from", "fetch", "--json"] + store, in: directory.url)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(
            try rerun.json()["tasks"]?["fetch"]?["attempts"] == 2 && rerun.json()["tasks"]?["post"]?["attempts"] == 4)
        let misnamed = try UAEFProcess.run(["runs", "retry", id, "--from", "fecth"] + store, in: directory.url)
        #expect(misnamed.status == 2)
        #expect(misnamed.stderr.contains("has no task fecth to run again from; its workflow's tasks are fetch, post"))
        let unknown = try UAEFProcess.run(["runs", "retry", "run_nope"] + store, in: directory.url)
        #expect(unknown.status == 2 && unknown.stderr.contains("no run run_nope in tenant default"))
    }
}
