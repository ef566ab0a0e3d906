import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFStore
import UAEFTestSupport

@testable import UAEFEngine

@Suite("Child runs: a workflow task starts a registered workflow and waits for it, on SQLite and PostgreSQL")
struct ChildRunTests {
    typealias Rig = EngineRig

    static let child = """
        name: onboard
        inputs: {supplier: "", lines: []}
        tasks:
          - {id: check, agent: echo, with: {supplier: "${{ inputs.supplier }}"}}
          - {id: per_line, agent: echo, depends_on: [check], for_each: "${{ inputs.lines }}", with: {n: "${{ item }}"}}
          - {id: never, agent: echo, depends_on: [check], when: "${{ false }}", with: {}}
        """

    @Test(
        "the parent's task starts the child with its inputs, as the parent's maker, one level deeper, and gets its tasks' outputs",
        arguments: StoreBackend.allCases)
    func childOutputs(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        try await rig.register(Self.child)
        let id = try await rig.submit(
            """
            name: invoice
            tasks:
              - id: onboard
                agent: workflow
                with: {workflow: onboard, inputs: {supplier: ACME, lines: [1, 2]}}
              - {id: after, agent: echo, depends_on: [onboard], with: {got: "${{ tasks.onboard.output.tasks.check.supplier }}"}}
            """)
        #expect(try await rig.engine.execute([id])[id] == .succeeded)

        let children = try await rig.children(of: id)
        #expect(children.count == 1)
        let child = try #require(children.first)
        #expect(child.status == .succeeded)
        #expect(child.parent == RunParent(run: id, task: "onboard"))
        #expect(child.depth == 1)
        #expect(child.createdBy == "test:maker")
        #expect(child.owner == nil)

        let tasks = try await rig.tasks(id)
        let expected: JSONValue = [
            "run_id": .string(child.id.rawValue), "workflow": "onboard", "version": 1,
            "tasks": ["check": ["supplier": "ACME"], "per_line": [["n": 1], ["n": 2]]],
        ]
        #expect(tasks["onboard"]?.output == expected)
        #expect(tasks["after"]?.output == ["got": "ACME"])

        let created = try await rig.store.runEvents(of: child.id, tenant: "default", from: 0, limit: 10).map(\.event)
            .first { $0.type == "run.created" }
        #expect(created?.actor == "test:maker")
        #expect(created?.data["parent_run"] == .string(id.rawValue))
        #expect(created?.data["parent_task"] == "onboard")
        #expect(try await rig.record(id).parent == nil)
    }

    @Test(
        "a succeeded child its parent waited for is not run again from a task (the parent has its outputs); the parent run again from its workflow task starts a new child"
    )
    func rerunWaitedChild() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(Self.child)
        let id = try await rig.submit(
            """
            name: invoice
            tasks:
              - {id: onboard, agent: workflow, with: {workflow: onboard, inputs: {supplier: ACME}}}
            """)
        #expect(try await rig.engine.execute([id])[id] == .succeeded)
        let first = try #require(try await rig.children(of: id).first)
        do {
            _ = try await rig.engine.retry(first.id, from: ["check"], actor: "test")
            Issue.record("a child its parent waited for was run again")
        } catch let refusal as RunRetry.Refusal {
            #expect(
                refusal.description.contains(
                    "succeeded as a child that run \(id)'s task onboard waited for, which has taken its outputs"),
                "\(refusal)")
        }
        #expect(try await rig.record(first.id).retryCount == 0)

        _ = try #require(try await rig.engine.retry(id, from: ["onboard"], actor: "test", leased: true))
        #expect(try await rig.engine.execute([id])[id] == .succeeded)
        let children = try await rig.children(of: id)
        #expect(children.count == 2 && children.allSatisfy { $0.status == .succeeded })
        let second = try #require(children.first { $0.id != first.id })
        #expect(try await rig.tasks(id)["onboard"]?.output?["run_id"] == .string(second.id.rawValue))
    }

    @Test("a child that fails fails the attempt, and the task's retry starts a new child; the error names the child")
    func failedChildRetried() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(
            """
            name: post
            tasks:
              - {id: post, agent: command, with: {command: ["false"]}}
            """)
        let id = try await rig.submit(
            """
            name: invoice
            tasks:
              - {id: post, agent: workflow, retry: {max_attempts: 2, backoff: 10ms}, with: {workflow: post}}
            """)
        #expect(try await rig.engine.execute([id])[id] == .failed)
        let children = try await rig.children(of: id)
        #expect(children.count == 2)
        #expect(children.allSatisfy { $0.status == .failed && $0.parent?.task == "post" })
        let task = try #require(try await rig.tasks(id)["post"])
        #expect(task.attempts == 2)
        #expect(task.error?.contains("child run \(children[0].id) of workflow post failed: ") == true)
    }

    @Test(
        "wait: false only starts the child: the task succeeds at once with its id, the child is left unleased to any runner, and the parent's cancellation leaves it",
        arguments: StoreBackend.allCases)
    func detachedChild(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        try await rig.register(Self.child)
        try await rig.register(Self.slowChild)
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: start, agent: workflow, with: {workflow: onboard, wait: false, inputs: {supplier: acme}}}
              - {id: slow, agent: workflow, depends_on: [start], with: {workflow: slow, wait: false}}
              - {id: hold, agent: sleep, depends_on: [slow], with: {duration: 10m}}
            """)
        let execution = Task { try await rig.engine.execute([id])[id] }
        try await rig.waitUntil("the parent holds") { try await rig.tasks(id)["hold"]?.status == .running }
        let started = try #require(try await rig.tasks(id)["start"]?.output)
        let children = try await rig.children(of: id)
        let onboard = try #require(children.first { $0.workflowName == "onboard" })
        #expect(
            started == ["run_id": .string(onboard.id.rawValue), "workflow": "onboard", "version": 1, "detached": true])
        // Left for any runner: nobody holds it, nothing executed it.
        #expect(onboard.status == .pending && onboard.owner == nil)
        #expect(onboard.parent == RunParent(run: id, task: "start", detached: true))
        #expect(onboard.createdBy == "test:maker" && onboard.depth == 1)
        let created = try #require(try await rig.events(onboard.id).first { $0.type == "run.created" })
        #expect(created.data["parent_detached"] == true)
        #expect(try await rig.engine.report(onboard.id)?["parent"]?["detached"] == true)

        // The parent cancelled: its detached children go on.
        _ = try await rig.engine.cancel(id, actor: "test")
        #expect(try await execution.value == .cancelled)
        #expect(try await rig.children(of: id).allSatisfy { $0.status == .pending })
        #expect(try await rig.engine.resume(onboard.id) == .succeeded)
        #expect(try await rig.tasks(onboard.id)["check"]?.output?["supplier"] == "acme")
    }

    @Test(
        "cancelling a tree cancels every run below the run that has not ended, children started without waiting and those of an ended child included",
        arguments: StoreBackend.allCases)
    func cancelTree(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        try await rig.register(Self.slowChild)
        try await rig.register(
            """
            name: spawner
            tasks:
              - {id: kick, agent: workflow, with: {workflow: slow, wait: false}}
            """)
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: kick, agent: workflow, with: {workflow: spawner, wait: false}}
              - {id: sub, agent: workflow, with: {workflow: spawner}}
              - {id: hold, agent: sleep, depends_on: [kick, sub], with: {duration: 10m}}
            """)
        let execution = Task { try await rig.engine.execute([id])[id] }
        try await rig.waitUntil("the parent holds") { try await rig.tasks(id)["hold"]?.status == .running }
        let children = try await rig.children(of: id)
        let detached = try #require(children.first { $0.parent?.task == "kick" })
        let waited = try #require(children.first { $0.parent?.task == "sub" })
        #expect(detached.status == .pending && waited.status == .succeeded)
        let grandchild = try #require(try await rig.children(of: waited.id).first)
        #expect(grandchild.status == .pending && grandchild.parent?.detached == true)
        let unfinishedDetached = try await rig.store.runs(
            tenant: "default", matching: RunFilter(parent: id, unfinished: true, detached: true), limit: 10)
        #expect(unfinishedDetached.map(\.id) == [detached.id])
        #expect(
            try await rig.store.runs(
                tenant: "default", matching: RunFilter(parent: id, unfinished: true, detached: false), limit: 10
            ).isEmpty)

        let outcome = try #require(try await rig.engine.cancelTree(id, actor: "test:operator"))
        #expect(outcome.descendants == 2)
        #expect(try await execution.value == .cancelled)
        #expect(try await rig.record(detached.id).status == .cancelled)
        #expect(try await rig.record(grandchild.id).status == .cancelled)
        #expect(try await rig.record(waited.id).status == .succeeded)
        let requested = try await rig.events(grandchild.id).first { $0.type == "run.cancel_requested" }
        #expect(requested?.actor == "test:operator")
        #expect(try await rig.engine.cancelTree(RunID("run_unknown"), actor: "test") == nil)
    }

    @Test(
        "a tenant's unfinished children started without waiting are bounded: past the bound the task fails, saying why")
    func detachedChildrenBounded() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        var kinds = BuiltInAgents.registry
        kinds.register(WorkflowKind(maximumDetachedRuns: 2))
        let engine = Engine(store: rig.store, kinds: kinds, sections: [], logger: Logger(label: "test"))
        try await rig.register(Self.slowChild)
        let definition = try await engine.validate(
            """
            name: flood
            concurrency: 1
            inputs: {items: [1, 2, 3]}
            tasks:
              - {id: start, agent: workflow, for_each: "${{ inputs.items }}", with: {workflow: slow, wait: false}}
            """, file: "flood.yaml")
        let id = try await engine.submit(definition, file: "flood.yaml", inputs: [], actor: "test", leased: true)
        #expect(try await engine.execute([id])[id] == .failed)
        #expect(try await rig.children(of: id).count == 2)
        let failed = try await rig.tasks(id).values.filter { $0.status == .failed && $0.index != nil }
        #expect(failed.count == 1)
        #expect(
            failed.first?.error?.contains(
                "tenant default has 2 unfinished child runs started without waiting, the most it may have") == true)
    }

    @Test(
        "an attempt that finds the child of an earlier one started with the other wait fails without retry, naming it")
    func waitChangedBetweenAttempts() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(Self.slowChild)
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: kick, agent: workflow, retry: {max_attempts: 3}, with: {workflow: slow, wait: false}}
            """)
        // As if an earlier attempt (its agent then configured to wait) had started the child under
        // the key this attempt derives.
        var earlier = Engine.RunRequest(workflow: "slow", inputs: [:], idempotencyKey: "child:\(id.rawValue)/kick/1")
        earlier.parent = ChildOrigin(link: RunParent(run: id, task: "kick"), depth: 1)
        let child = try await rig.engine.start(earlier, actor: "test:maker", leased: false).run
        #expect(try await rig.engine.execute([id])[id] == .failed)
        let task = try #require(try await rig.tasks(id)["kick"])
        #expect(task.attempts == 1)
        #expect(
            task.error
                == "workflow: child run \(child) was started by an earlier attempt waiting for it, and this attempt's wait is false; the task's wait must not change between attempts"
        )
        #expect(try await rig.children(of: id).map(\.id) == [child])
    }

    @Test(
        "an unknown workflow, bad parameters or inputs the child does not declare fail the task at once, naming the fault"
    )
    func refusedRequests() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(Self.child)
        let id = try await rig.submit(
            """
            name: invoice
            tasks:
              - {id: unknown, agent: workflow, retry: {max_attempts: 3}, with: {workflow: nowhere}}
              - {id: version, agent: workflow, with: {workflow: onboard, version: 7}}
              - {id: input, agent: workflow, with: {workflow: onboard, inputs: {vendor: x}}}
              - {id: shape, agent: workflow, with: {workflow: onboard, inputs: [1]}}
              - {id: wait, agent: workflow, with: {workflow: onboard, wait: "no"}}
            """)
        #expect(try await rig.engine.execute([id])[id] == .failed)
        let tasks = try await rig.tasks(id)
        #expect(tasks["unknown"]?.attempts == 1)
        #expect(tasks["unknown"]?.error?.contains("no workflow named 'nowhere' is registered") == true)
        #expect(tasks["version"]?.error?.contains("workflow 'onboard' has no version 7") == true)
        #expect(
            tasks["input"]?.error?.contains("unknown input 'vendor'; workflow onboard declares: lines, supplier")
                == true)
        #expect(tasks["shape"]?.error == "workflow: `inputs` must be an object of the child's inputs")
        #expect(
            tasks["wait"]?.error
                == "workflow: `wait` must be true (wait for the child to end, the default) or false (only start it)")
        #expect(try await rig.children(of: id).isEmpty)
    }

    @Test("a workflow that starts itself stops at the depth limit, with a message that says why")
    func depthLimit() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        let loop = """
            name: loop
            tasks:
              - {id: again, agent: workflow, with: {workflow: loop}}
            """
        try await rig.register(loop)
        let id = try await rig.submit(loop)
        #expect(try await rig.engine.execute([id])[id] == .failed)
        var depth = 0
        var current = id
        while let child = try await rig.children(of: current).first {
            depth += 1
            #expect(child.depth == depth)
            current = child.id
        }
        #expect(depth == WorkflowKind.maximumDepth)
        let deepest = try #require(try await rig.tasks(current)["again"])
        #expect(deepest.error?.contains("children nest at most 5 levels (does workflow loop start itself?)") == true)
    }

    static let slowChild = """
        name: slow
        tasks:
          - {id: wait, agent: sleep, with: {duration: 10m}}
        """

    @Test("cancelling the parent cancels the child it waits for", arguments: StoreBackend.allCases)
    func cancelParent(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        try await rig.register(Self.slowChild)
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: child, agent: workflow, with: {workflow: slow}}
            """)
        let execution = Task { try await rig.engine.execute([id])[id] }
        try await rig.waitUntil("the child runs") {
            guard let child = try await rig.children(of: id).first else { return false }
            return try await rig.tasks(child.id)["wait"]?.status == .running
        }
        let started = ContinuousClock.now
        _ = try await rig.engine.cancel(id, actor: "test:canceller")
        #expect(try await execution.value == .cancelled)
        let child = try #require(try await rig.children(of: id).first)
        #expect(child.status == .cancelled)
        // Long before the child's ten minutes: it was cancelled, not waited for.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test(
        "an attempt that times out cancels its child while its run goes on, and the retry starts a new child (five seconds each: the child must start first, also with the whole suite on two cores)"
    )
    func timedOutAttemptCancelsChildAtOnce() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(Self.slowChild)
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: child, agent: workflow, timeout: 5s, retry: {max_attempts: 2, backoff: 10ms}, with: {workflow: slow}}
            """)
        let execution = Task { try await rig.engine.execute([id])[id] }
        try await rig.waitUntil("the first child is cancelled") {
            try await rig.children(of: id).last?.status == .cancelled
        }
        // The second attempt's child runs on: the parent has not ended, so its end cancelled nothing.
        #expect(try await rig.record(id).status == .running)
        #expect(try await execution.value == .failed)
        #expect(try await rig.tasks(id)["child"]?.error?.contains("timed out") == true)
        let children = try await rig.children(of: id)
        #expect(children.count == 2 && children.allSatisfy { $0.status == .cancelled })
    }

    @Test(
        "a stopping process leaves parent and child unfinished; the attempt replacing the one cut off takes its child's result even when the child ended first; cancelling a parent nobody holds cancels its child"
    )
    func stopAndResume() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        let flag = try await rig.registerGated()
        let parent = """
            name: parent
            tasks:
              - {id: child, agent: workflow, with: {workflow: gated}}
            """
        // The process stops (its runner's task is cancelled) while the child waits.
        let first = try await rig.submit(parent)
        try await rig.stop(first, once: "the child runs") {
            try await rig.children(of: first).first?.status == .running
        }
        var child = try #require(try await rig.children(of: first).first)
        #expect(child.status == .running)
        #expect(try await rig.record(first).status == .running)

        // The child ends first, on its own; resumed, the parent's next attempt takes its result.
        _ = FileManager.default.createFile(atPath: flag, contents: Data())
        #expect(try await rig.engine.resume(child.id) == .succeeded)
        #expect(try await rig.engine.resume()[first] == .succeeded)
        #expect(try await rig.tasks(first)["child"]?.attempts == 2)
        let children = try await rig.children(of: first)
        #expect(children.map(\.id) == [child.id])
        #expect(children.first?.status == .succeeded)

        // Stopped again, then cancelled while nobody holds either run: the child is cancelled too.
        try FileManager.default.removeItem(atPath: flag)
        let second = try await rig.submit(parent)
        try await rig.stop(second, once: "the child runs") {
            try await rig.children(of: second).first?.status == .running
        }
        _ = try await rig.engine.cancel(second, actor: "test:canceller")
        #expect(try await rig.record(second).status == .cancelled)
        child = try #require(try await rig.children(of: second).first)
        #expect(child.status == .cancelled)
    }

    @Test(
        "resumed in one batch with their children, parents waiting on them take no execution slot, so the children start even when the parents outnumber the slots"
    )
    func waitingParentsTakeNoSlot() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        let flag = try await rig.registerGated()
        let id = try await rig.submit(
            """
            name: parent
            tasks:
              - {id: child, agent: workflow, for_each: [1, 2, 3], with: {workflow: gated}}
            """)
        try await rig.stop(id, once: "three children run") {
            try await rig.children(of: id).filter { $0.status == .running }.count == 3
        }

        // A process with two slots takes over the parent and its three children at once.
        let narrow = rig.engine(maxConcurrency: 2)
        _ = FileManager.default.createFile(atPath: flag, contents: Data())
        let resumed = Task { try await narrow.resume() }
        // Stuck children would hang the test: it is cut off and fails instead.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(90))
            resumed.cancel()
        }
        defer { watchdog.cancel() }
        let statuses = try await resumed.value
        #expect(statuses.count == 4)
        #expect(statuses[id] == .succeeded)
        #expect(try await rig.children(of: id).map(\.status) == [.succeeded, .succeeded, .succeeded])
    }

    @Test("a process executes at most --max-concurrency children of one depth at once; the others wait to be started")
    func childrenBounded() async throws {
        let rig = try await Rig(.sqlite)
        defer { rig.location.remove() }
        try await rig.register(
            """
            name: nap
            tasks:
              - {id: nap, agent: sleep, with: {duration: 150ms}}
            """)
        let narrow = rig.engine(maxConcurrency: 2)
        let definition = try await narrow.validate(
            """
            name: parent
            tasks:
              - {id: child, agent: workflow, for_each: [1, 2, 3, 4, 5, 6], with: {workflow: nap}}
            """, file: "parent.yaml")
        let id = try await narrow.submit(definition, file: "parent.yaml", inputs: [], actor: "test", leased: true)
        let execution = Task { try await narrow.execute([id])[id] }
        var most = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while try await !rig.record(id).status.isTerminal, ContinuousClock.now < deadline {
            most = max(most, try await rig.children(of: id).filter { !$0.status.isTerminal }.count)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await execution.value == .succeeded)
        #expect(most >= 1 && most <= 2)
        #expect(try await rig.children(of: id).count == 6)
    }
}

extension EngineRig {
    func register(_ workflow: String) async throws {
        _ = try await engine.register(workflow, origin: "test.yaml", actor: "test")
    }

    /// Registers `gated`, whose one task fails until the file at the returned path exists.
    func registerGated() async throws -> String {
        let flag = path("go")
        try await register(
            """
            name: gated
            tasks:
              - {id: gate, agent: command, retry: {max_attempts: 100, backoff: 20ms, jitter: false}, with: {command: [test, -f, "\(flag)"]}}
            """)
        return flag
    }

    /// Starts a run of `workflow` as `test:maker`, leased to this process.
    func submit(_ workflow: String) async throws -> RunID {
        let definition = try await engine.validate(workflow, file: "parent.yaml")
        return try await engine.submit(definition, file: "parent.yaml", inputs: [], actor: "test:maker", leased: true)
    }

    func children(of id: RunID) async throws -> [RunRecord] {
        try await store.runs(tenant: "default", matching: RunFilter(parent: id), limit: 100)
    }

    /// Executes run `id` until `condition` holds, then stops as a stopping process does (the
    /// runner's task cancelled), leaving its runs unfinished.
    func stop(_ id: RunID, once what: String, _ condition: () async throws -> Bool) async throws {
        let execution = Task { try await engine.execute([id]) }
        try await waitUntil(what, condition)
        execution.cancel()
        _ = try? await execution.value
    }
}
