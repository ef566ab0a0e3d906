import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

@Suite("Child runs from the command line (real processes, a real SQLite file)")
struct ChildRunCLITests {
    @Test(
        "uaef run executes a workflow task's child in the same process; uaef runs list --parent lists it with its parent; uaef run SIGKILLed mid-child, uaef resume finishes parent and child with no second child"
    )
    func childRunKilledAndResumed() async throws {
        let directory = try TemporaryDirectory("cli-child")
        defer { directory.remove() }
        try """
        name: gated
        inputs: {supplier: ""}
        tasks:
          - id: gate
            agent: command
            with: {command: [sh, -c, 'echo $$ > pid; until [ -f go ]; do sleep 0.05; done; echo "{\\"ok\\": \\"$S\\"}"'], env: {S: "${{ inputs.supplier }}"}}
        """.write(toFile: directory.path("gated.yaml"), atomically: true, encoding: .utf8)
        try """
        name: parent
        tasks:
          - {id: onboard, agent: workflow, with: {workflow: gated, inputs: {supplier: ACME}}}
          - {id: after, agent: echo, depends_on: [onboard], with: {ok: "${{ tasks.onboard.output.tasks.gate.ok }}"}}
        """.write(toFile: directory.path("parent.yaml"), atomically: true, encoding: .utf8)
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        let registered = try UAEFProcess.run(["workflows", "register", "gated.yaml"] + store, in: directory.url)
        #expect(registered.status == 0, "\(registered.stderr)")

        // The whole thing in one uaef run.
        _ = FileManager.default.createFile(atPath: directory.path("go"), contents: Data())
        let whole = try UAEFProcess.run(["run", "parent.yaml", "--json"] + store, in: directory.url)
        #expect(whole.status == 0, "\(whole.stderr)")
        let first = try #require(try whole.json()["run_id"]?.stringValue)
        #expect(try whole.json()["tasks"]?["after"]?["output"] == ["ok": "ACME"])
        let listed = try UAEFProcess.run(["runs", "list", "--parent", first, "--json"] + store, in: directory.url)
        let children = try listed.json().arrayValue ?? []
        #expect(children.count == 1)
        #expect(children.first?["parent"] == ["run_id": .string(first), "task": "onboard", "detached": false])
        #expect(children.first?["workflow"] == "gated" && children.first?["status"] == "succeeded")

        // Killed while the child's program waits; resumed, the same child finishes.
        try FileManager.default.removeItem(atPath: directory.path("go"))
        try? FileManager.default.removeItem(atPath: directory.path("pid"))
        let (process, _, _) = try UAEFProcess.start(["run", "parent.yaml"] + store, in: directory.url)
        let deadline = ContinuousClock.now + .seconds(90)
        while (try? String(contentsOfFile: directory.path("pid"), encoding: .utf8))?.hasSuffix("\n") != true,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = FileManager.default.createFile(atPath: directory.path("go"), contents: Data())
        let resumed = try UAEFProcess.run(["resume", "--json"] + store, in: directory.url)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let runs = try UAEFProcess.run(["runs", "list", "--json"] + store, in: directory.url).json().arrayValue ?? []
        let parents = runs.filter { $0["workflow"] == "parent" }
        #expect(parents.count == 2 && parents.allSatisfy { $0["status"] == "succeeded" })
        let second = try #require(parents.first?["run_id"]?.stringValue)
        let again = try UAEFProcess.run(["runs", "list", "--parent", second, "--json"] + store, in: directory.url)
        #expect(try again.json().arrayValue?.map { $0["status"] } == ["succeeded"])
        let shown = try UAEFProcess.run(["runs", "show", second, "--json"] + store, in: directory.url)
        #expect(try shown.json()["tasks"]?["onboard"]?["attempts"] == 2)
        #expect(try shown.json()["tasks"]?["after"]?["output"] == ["ok": "ACME"])
    }

    @Test(
        "uaef runs cancel --tree cancels the child an ended parent started without waiting, which a plain cancel leaves; --json counts the runs below it"
    )
    func cancelTree() throws {
        let directory = try TemporaryDirectory("cli-child-tree")
        defer { directory.remove() }
        try """
        name: slow
        tasks:
          - {id: wait, agent: sleep, with: {duration: 10m}}
        """.write(toFile: directory.path("slow.yaml"), atomically: true, encoding: .utf8)
        try """
        name: starter
        tasks:
          - {id: kick, agent: workflow, with: {workflow: slow, wait: false}}
        """.write(toFile: directory.path("starter.yaml"), atomically: true, encoding: .utf8)
        let store = ["--store", "sqlite:" + directory.path("u.db")]
        #expect(try UAEFProcess.run(["workflows", "register", "slow.yaml"] + store, in: directory.url).status == 0)
        let started = try UAEFProcess.run(["run", "starter.yaml", "--json"] + store, in: directory.url)
        #expect(started.status == 0, "\(started.stderr)")
        let parent = try #require(try started.json()["run_id"]?.stringValue)
        let child = try #require(try started.json()["tasks"]?["kick"]?["output"]?["run_id"]?.stringValue)

        let plain = try UAEFProcess.run(["runs", "cancel", parent] + store, in: directory.url)
        #expect(plain.status == 0 && plain.stdout == "\(parent): succeeded\n", "\(plain.stdout)\(plain.stderr)")
        let tree = try UAEFProcess.run(["runs", "cancel", parent, "--tree", "--json"] + store, in: directory.url)
        #expect(tree.status == 0, "\(tree.stderr)")
        #expect(
            try tree.json() == [
                "run_id": .string(parent), "status": "succeeded", "cancel_requested": true, "descendants": 1,
            ])
        let shown = try UAEFProcess.run(["runs", "show", child, "--json"] + store, in: directory.url)
        #expect(try shown.json()["status"] == "cancelled")
        let again = try UAEFProcess.run(["runs", "cancel", parent, "--tree"] + store, in: directory.url)
        #expect(again.stdout == "\(parent): succeeded; 0 runs below it asked to stop\n", "\(again.stdout)")
    }
}
