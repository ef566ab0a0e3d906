import Foundation
import Testing
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

@Suite(
    "Retrying a failed or cancelled run from where it stopped, or any ended run from tasks one names, on SQLite and PostgreSQL"
)
struct RunRetryTests {
    typealias Rig = EngineRig

    @Test(
        "a retry runs the failed task and everything downstream of it again, keeps what succeeded, and gives the failed task its retries afresh",
        arguments: StoreBackend.allCases)
    func failedTaskAndDownstream(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let flag = rig.path("posted")
        let id = try await rig.run(
            """
            name: invoice
            tasks:
              - {id: fetch, agent: echo, with: {total: 120}}
              - {id: side, agent: echo, with: {n: 1}}
              - id: post
                agent: command
                depends_on: [fetch]
                retry: {max_attempts: 2, backoff: 10ms}
                with: {command: [test, -f, "\(flag)"]}
              - {id: report, agent: echo, depends_on: [post], with: {total: "${{ tasks.fetch.output.total }}"}}
              - {id: alert, agent: echo, depends_on: [post], trigger: one_failed, with: {alert: true}}
            """)
        var tasks = try await rig.tasks(id)
        #expect(tasks["post"]?.status == .failed && tasks["post"]?.attempts == 2)
        #expect(tasks["report"]?.status == .skipped)
        #expect(tasks["alert"]?.status == .succeeded)

        // Still failing: the task gets its two attempts again, not one.
        let (first, stillFailed) = try await rig.retry(id)
        #expect(first.reopened == ["alert", "post", "report"])
        #expect(first.run.retryCount == 1)
        #expect(stillFailed == .failed)
        tasks = try await rig.tasks(id)
        #expect(tasks["post"]?.attempts == 4)
        #expect(tasks["alert"]?.status == .succeeded)

        rig.touch("posted")
        let (second, status) = try await rig.retry(id)
        #expect(second.run.retryCount == 2)
        #expect(status == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["post"]?.status == .succeeded && tasks["post"]?.attempts == 5)
        #expect(tasks["report"]?.status == .succeeded && tasks["report"]?.output == ["total": 120])
        #expect(tasks["alert"]?.status == .skipped)
        // What had succeeded before did not run again.
        #expect(tasks["fetch"]?.attempts == 1 && tasks["side"]?.attempts == 1)
        let snapshot = try #require(try await rig.store.snapshot(of: id, tenant: "default"))
        #expect(snapshot.run.status == .succeeded && snapshot.run.error == nil && snapshot.run.endedAt != nil)
        let postAttempts = snapshot.attempts.filter { $0.key == "post" }.map(\.idempotencyKey)
        #expect(postAttempts == (1...5).map { "\(id.rawValue)/post/\($0)" })

        let events = try await rig.events(id)
        let retried = events.filter { $0.type == "run.retried" }
        #expect(retried.count == 2)
        #expect(retried.last?.actor == "test:retrier")
        #expect(retried.last?.data["retry"] == 2 && retried.last?.data["previous_status"] == "failed")
        #expect(retried.last?.data["tasks"] == ["alert", "post", "report"] && retried.last?.data["reopened"] == 3)
        #expect(events.map(\.type).filter { $0.hasPrefix("run.") }.suffix(2) == ["run.retried", "run.succeeded"])
        #expect(events.filter { $0.type == "run.started" }.count == 1)
    }

    @Test(
        "a fanned-out task whose list is kept runs only its instances that did not succeed; one downstream of a reopened task is expanded again",
        arguments: StoreBackend.allCases)
    func fanOut(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        rig.touch("a")
        rig.touch("c")
        let id = try await rig.run(
            """
            name: fan
            inputs: {names: [a, b, c]}
            tasks:
              - id: check
                agent: command
                for_each: ${{ inputs.names }}
                with: {command: [test, -f, "${{ item }}"], cwd: "\(rig.location.directory.url.path)"}
              - {id: gate, agent: command, with: {command: [test, -f, "\(rig.path("gate"))"]}}
              - id: each
                agent: echo
                depends_on: [gate]
                for_each: ${{ inputs.names }}
                with: {name: "${{ item }}"}
            """)
        var tasks = try await rig.tasks(id)
        #expect(tasks["check"]?.status == .failed && tasks["check[1]"]?.status == .failed)
        #expect(tasks["each"]?.status == .skipped)

        rig.touch("b")
        rig.touch("gate")
        let (outcome, status) = try await rig.retry(id)
        #expect(outcome.reopened == ["check[1]", "each", "gate"])
        #expect(status == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["check[0]"]?.attempts == 1 && tasks["check[2]"]?.attempts == 1)
        #expect(tasks["check[1]"]?.attempts == 2 && tasks["check[1]"]?.status == .succeeded)
        #expect(tasks["check"]?.status == .succeeded && tasks["check"]?.output?.arrayValue?.count == 3)
        #expect(tasks["each"]?.output == [["name": "a"], ["name": "b"], ["name": "c"]])
    }

    @Test(
        "a fan-out downstream of a reopened task is expanded again: its instances' attempt numbers stay unique and instances the new list no longer reaches are set aside",
        arguments: StoreBackend.allCases)
    func fanOutExpandedAgain(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        // `each` runs whatever `gate` did (all_done) over three names while `gate` has failed,
        // over one once it has succeeded.
        let id = try await rig.run(
            """
            name: refan
            tasks:
              - {id: gate, agent: command, with: {command: [test, -f, "\(rig.path("go"))"]}}
              - id: each
                agent: echo
                depends_on: [gate]
                trigger: all_done
                for_each: ${{ [["x", "y", "z"], ["a"]][min(1, len(tasks.gate.status) - 6)] }}
                with: {name: "${{ item }}"}
            """)
        var tasks = try await rig.tasks(id)
        #expect(tasks["gate"]?.status == .failed)
        #expect(tasks["each"]?.output == [["name": "x"], ["name": "y"], ["name": "z"]])

        rig.touch("go")
        let (outcome, status) = try await rig.retry(id)
        #expect(outcome.reopened == ["each", "gate"])
        #expect(status == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["each"]?.output == [["name": "a"]])
        #expect(tasks["each[0]"]?.status == .succeeded && tasks["each[0]"]?.attempts == 2)
        #expect(tasks["each[1]"]?.status == .skipped && tasks["each[2]"]?.status == .skipped)
        #expect(tasks["each[2]"]?.reason?.contains("set aside by a retry") == true)
        // An instance set aside is not in the current list: it cannot be named.
        await #expect(throws: RunRetry.Refusal.self) {
            try await rig.engine.retry(id, from: ["each[2]"], actor: "test")
        }
        do {
            _ = try await rig.engine.retry(id, from: ["each[2]"], actor: "test")
        } catch let refusal as RunRetry.Refusal {
            #expect(
                refusal.description.contains("no instance each[2] in the current list of each (each[0] to each[0])"))
        }
        let snapshot = try #require(try await rig.store.snapshot(of: id, tenant: "default"))
        #expect(
            snapshot.attempts.filter { $0.key == "each[0]" }.map(\.idempotencyKey) == [
                "\(id.rawValue)/each[0]/1", "\(id.rawValue)/each[0]/2",
            ])
    }

    @Test(
        "expressions read run.retry_count: 0 in the run's first go, one more with each retry",
        arguments: [StoreBackend.sqlite])
    func retryCountInExpressions(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let id = try await rig.run(
            """
            name: counted
            tasks:
              - {id: share, agent: echo, with: {share: "${{ 10 / run.retry_count }}"}}
            """)
        var tasks = try await rig.tasks(id)
        #expect(tasks["share"]?.status == .failed && tasks["share"]?.error?.contains("division by zero") == true)
        let (_, status) = try await rig.retry(id)
        #expect(status == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["share"]?.output == ["share": 10])
    }

    @Test(
        "a cancelled run retried runs to its end: the cancellation request is cleared with the run's end",
        arguments: StoreBackend.allCases)
    func cancelledRun(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let workflow = """
            name: slow
            tasks:
              - {id: first, agent: echo, with: {n: 1}}
              - {id: wait, agent: sleep, depends_on: [first], with: {duration: 600ms}}
            """
        let definition = try await rig.engine.validate(workflow, file: "w.yaml")
        let id = try await rig.engine.submit(definition, file: "w.yaml", inputs: [], actor: "test", leased: false)
        // Nobody executes it: the cancellation ends it here and now.
        #expect(try await rig.engine.cancel(id, actor: "test")?.status == .cancelled)

        let (outcome, status) = try await rig.retry(id)
        #expect(outcome.reopened == ["first", "wait"])
        #expect(outcome.run.status == .running && outcome.run.cancelRequested == false && outcome.run.owner == nil)
        #expect(status == .succeeded, "a cancellation request left standing would cancel the retried run again")
        let events = try await rig.events(id)
        #expect(events.first { $0.type == "run.retried" }?.data["previous_status"] == "cancelled")
    }

    @Test(
        "a run's timeout counts from its latest retry, not from its creation", arguments: StoreBackend.allCases)
    func timeoutFromRetry(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let flag = rig.path("ready")
        let id = try await rig.run(
            """
            name: timed
            timeout: 60s
            tasks:
              - {id: work, agent: command, with: {command: [test, -f, "\(flag)"]}}
            """)
        #expect(try await rig.store.run(id, tenant: "default")?.status == .failed)
        // Created an hour ago, as an operator's SQL shell would make it: a timeout counted from the
        // creation would have passed long since, and would fail the retry at once.
        try rig.location.executeOutside("UPDATE runs SET created_at = created_at - 3600000")
        rig.touch("ready")
        let (outcome, status) = try await rig.retry(id)
        #expect(outcome.run.timeoutStart == outcome.run.retriedAt)
        let ended = try await rig.store.run(id, tenant: "default")
        #expect(status == .succeeded, "\(ended?.error ?? "")")
        #expect(ended.map { $0.timeoutStart.timeIntervalSince($0.createdAt) > 3_000 } == true)
    }

    @Test(
        "a run whose approval was rejected is not retried (another approver would overrule the rejection); one that was redacted is not either",
        arguments: [StoreBackend.sqlite])
    func rejectedAndRedacted(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let workflow = """
            name: signed
            tasks:
              - {id: sign, agent: approval, with: {role: finance}}
            """
        let definition = try await rig.engine.validate(workflow, file: "w.yaml")
        let id = try await rig.engine.submit(definition, file: "w.yaml", inputs: [], actor: "maker", leased: true)
        let status = try await withThrowingTaskGroup(of: RunStatus?.self) { group in
            group.addTask { try await rig.engine.execute([id])[id] }
            var approval: TaskApprovalRecord?
            for _ in 0..<1_500 where approval == nil {
                approval = try await rig.store.taskApprovals(tenant: "default", status: .pending).first
                if approval == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let pending = try #require(approval)
            _ = try await rig.engine.decide(
                task: pending.id, .reject, principal: "checker", role: "finance", reason: "wrong supplier")
            return try await group.next() ?? nil
        }
        #expect(status == .failed)
        do {
            _ = try await rig.engine.retry(id, actor: "someone")
            Issue.record("a rejected approval was retried")
        } catch let refusal as RunRetry.Refusal {
            #expect(refusal.description.contains("task sign was rejected by an approver"), "\(refusal)")
        }

        let fetched = try await rig.run(
            """
            name: erased
            tasks:
              - {id: fetch, agent: echo, with: {secret: 42}}
              - {id: post, agent: command, depends_on: [fetch], with: {command: ["false"]}}
            """)
        _ = try await rig.engine.redact(fetched, task: "fetch", reason: "erasure request", actor: "dpo")
        do {
            _ = try await rig.engine.retry(fetched, actor: "someone")
            Issue.record("a redacted run was retried")
        } catch let refusal as RunRetry.Refusal {
            #expect(refusal.description.contains("was redacted"), "\(refusal)")
        }
        #expect(try await rig.store.run(fetched, tenant: "default")?.retryCount == 0)
    }

    @Test(
        "leases are given up at the generation they were claimed at: a run retried and held again by the same process keeps its new lease when the go that ended it lets go",
        arguments: StoreBackend.allCases)
    func releaseByGeneration(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let id = try await rig.run("name: no\ntasks:\n  - {id: a, agent: command, with: {command: [\"false\"]}}\n")
        let ended = try #require(try await rig.store.run(id, tenant: "default"))
        let owner = rig.engine.configuration.owner
        let outcome = try #require(try await rig.engine.retry(id, actor: "test", leased: true))
        #expect(outcome.run.owner == owner && outcome.run.leaseGeneration == ended.leaseGeneration + 1)
        try await rig.store.releaseLeases(LeaseFence(owner: owner, generations: [id: ended.leaseGeneration]))
        #expect(try await rig.store.run(id, tenant: "default")?.owner == owner, "the new lease stays")
        try await rig.store.releaseLeases(LeaseFence(owner: owner, generations: [id: outcome.run.leaseGeneration]))
        #expect(try await rig.store.run(id, tenant: "default")?.owner == nil)
    }

    @Test(
        "what cannot be retried is refused with a reason and changes nothing: a succeeded or unfinished run, an unknown one, a stale reopen",
        arguments: StoreBackend.allCases)
    func refusals(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let succeeded = try await rig.run("name: ok\ntasks:\n  - {id: a, agent: echo, with: {n: 1}}\n")
        await #expect(throws: RunRetry.Refusal.self) { try await rig.engine.retry(succeeded, actor: "test") }
        do {
            _ = try await rig.engine.retry(succeeded, actor: "test")
        } catch let refusal as RunRetry.Refusal {
            #expect(refusal.description.contains("succeeded: it can only be run again from tasks you name"))
        }
        #expect(try await rig.engine.retry(RunID("run_unknown"), actor: "test") == nil)
        #expect(try await rig.engine.forTenant("other").retry(succeeded, actor: "test") == nil)

        let failed = try await rig.run(
            "name: no\ntasks:\n  - {id: a, agent: command, with: {command: [\"false\"]}}\n")
        let before = try #require(try await rig.store.snapshot(of: failed, tenant: "default"))
        _ = try #require(try await rig.engine.retry(failed, actor: "test"))
        // Reopened and not yet taken up: a second retry finds it unfinished.
        await #expect(throws: RunRetry.Refusal.self) { try await rig.engine.retry(failed, actor: "test") }
        // A retry that read the run before the first one committed finds it changed.
        let stale = try await rig.store.reopen(
            before.run, at: Date(), by: "test", holder: nil, changes: ChangeSet())
        #expect(stale == nil)
        let events = try await rig.events(failed)
        #expect(events.filter { $0.type == "run.retried" }.count == 1)
    }
    static let rerunWorkflow = """
        name: classify-invoice
        tasks:
          - {id: fetch, agent: echo, with: {total: 120}}
          - {id: side, agent: echo, with: {n: 1}}
          - {id: classify, agent: echo, depends_on: [fetch], with: {label: "v${{ run.retry_count }}"}}
          - {id: lines, agent: echo, depends_on: [fetch], for_each: "${{ [1, 2] }}", with: {line: "${{ item }}"}}
          - id: post
            agent: echo
            depends_on: [classify, lines]
            with: {label: "${{ tasks.classify.output.label }}", total: "${{ tasks.fetch.output.total }}"}
        """

    @Test(
        "a succeeded run run again from a named task: that task and everything downstream of it run again, the rest keeps its outputs, and run.retried names what was asked",
        arguments: StoreBackend.allCases)
    func rerunFromTask(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let id = try await rig.run(Self.rerunWorkflow)
        var tasks = try await rig.tasks(id)
        #expect(tasks["post"]?.output == ["label": "v0", "total": 120])

        // What a task recorded to resume from: dropped for the task named, kept for those after it.
        for key in ["classify", "post"] {
            try await rig.store.saveTaskCheckpoint(
                TaskCheckpoint(
                    tenant: "default", run: id, taskKey: key, value: ["request_id": "r1"], attempt: 1, updatedAt: Date()
                ),
                event: EventDraft(
                    id: "evt_\(UUID().uuidString)", time: Date(), type: "test.checkpoint", actor: "test",
                    tenant: "default", subject: "\(id.rawValue)/\(key)", data: [:]))
        }
        let outcome = try #require(try await rig.engine.retry(id, from: ["classify"], actor: "test:retrier"))
        #expect(outcome.reopened == ["classify", "post"])
        #expect(outcome.run.retriedBy == "test:retrier")
        let named = try await rig.store.taskCheckpoint(tenant: "default", run: id, taskKey: "classify")
        #expect(named?.value == TaskCheckpoint.afresh(retry: 1) && named?.afreshRetry == 1)
        #expect(
            try await rig.store.taskCheckpoint(tenant: "default", run: id, taskKey: "post")?.value == [
                "request_id": "r1"
            ])
        #expect(outcome.run.status == .running && outcome.run.endedAt == nil && outcome.run.retryCount == 1)
        #expect(try await rig.engine.resume(id) == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["classify"]?.output == ["label": "v1"] && tasks["classify"]?.attempts == 2)
        #expect(tasks["post"]?.output == ["label": "v1", "total": 120])
        #expect(tasks["fetch"]?.attempts == 1 && tasks["side"]?.attempts == 1)
        #expect(tasks["lines[0]"]?.attempts == 1 && tasks["lines[1]"]?.attempts == 1)
        let retried = try #require(try await rig.events(id).last { $0.type == "run.retried" })
        #expect(retried.data["previous_status"] == "succeeded" && retried.data["from"] == ["classify"])
        #expect(retried.data["tasks"] == ["classify", "post"] && retried.data["reopened"] == 2)

        // A fanned-out task named runs all its instances again, not only those that did not succeed.
        let again = try #require(try await rig.engine.retry(id, from: ["lines"], actor: "test"))
        #expect(again.reopened == ["lines", "post"])
        #expect(try await rig.engine.resume(id) == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["lines[0]"]?.attempts == 2 && tasks["lines[1]"]?.attempts == 2)
        #expect(tasks["lines"]?.output == [["line": 1], ["line": 2]])
        #expect(tasks["classify"]?.attempts == 2)

        // One instance named runs again alone; its siblings keep their outputs.
        let one = try #require(try await rig.engine.retry(id, from: ["lines[1]"], actor: "test"))
        #expect(one.reopened == ["lines[1]", "post"])
        #expect(try await rig.engine.resume(id) == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["lines[0]"]?.attempts == 2 && tasks["lines[1]"]?.attempts == 3)
        #expect(tasks["lines"]?.output == [["line": 1], ["line": 2]] && tasks["post"]?.attempts == 4)
        let retriedOne = try #require(try await rig.events(id).last { $0.type == "run.retried" })
        #expect(retriedOne.data["from"] == ["lines[1]"])

        // An instance named beside its task (or twice): the task is expanded again whole.
        let both = try #require(
            try await rig.engine.retry(id, from: ["lines[0]", "lines", "lines[0]"], actor: "test"))
        #expect(both.reopened == ["lines", "post"])
        #expect(try await rig.engine.resume(id) == .succeeded)
        tasks = try await rig.tasks(id)
        #expect(tasks["lines[0]"]?.attempts == 3 && tasks["lines[1]"]?.attempts == 4)
    }

    @Test(
        "a failed run retried with a named task: what failed runs again as in any retry, and the named task and its downstream run again beside it",
        arguments: [StoreBackend.sqlite])
    func retryWithNamedTask(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let id = try await rig.run(
            """
            name: two-branches
            tasks:
              - {id: a, agent: echo, with: {n: 1}}
              - {id: b, agent: echo, depends_on: [a], with: {n: 2}}
              - {id: c, agent: command, with: {command: [test, -f, "\(rig.path("go"))"]}}
              - {id: d, agent: echo, with: {n: 4}}
            """)
        #expect(try await rig.tasks(id)["c"]?.status == .failed)
        rig.touch("go")
        let outcome = try #require(try await rig.engine.retry(id, from: ["a"], actor: "test"))
        #expect(outcome.reopened == ["a", "b", "c"])
        #expect(try await rig.engine.resume(id) == .succeeded)
        let tasks = try await rig.tasks(id)
        #expect(tasks["a"]?.attempts == 2 && tasks["b"]?.attempts == 2 && tasks["d"]?.attempts == 1)
    }

    @Test(
        "naming what the run does not have is refused as an invalid request and changes nothing: an unknown task, an instance outside the list, too many names; a run that has not ended is refused with or without names",
        arguments: StoreBackend.allCases)
    func rerunRefusals(_ backend: StoreBackend) async throws {
        let rig = try await Rig(backend)
        defer { rig.location.remove() }
        let id = try await rig.run(Self.rerunWorkflow)
        let cases: [([String], String)] = [
            (
                ["classfy"],
                "has no task classfy to run again from; its workflow's tasks are fetch, side, classify, lines, post"
            ),
            (["lines[7]"], "has no instance lines[7] in the current list of lines (lines[0] to lines[1])"),
            (Array(repeating: "post", count: 101), "101 names of tasks to run again from; give at most 100"),
        ]
        for (named, message) in cases {
            do {
                _ = try await rig.engine.retry(id, from: named, actor: "test")
                Issue.record("\(named.prefix(2)) was accepted")
            } catch let refusal as RunRetry.Refusal {
                #expect(refusal.isInvalidRequest && refusal.description.contains(message), "\(refusal)")
            }
        }
        let unchanged = try #require(try await rig.store.run(id, tenant: "default"))
        #expect(unchanged.status == .succeeded && unchanged.retryCount == 0)
        #expect(try await rig.events(id).contains { $0.type == "run.retried" } == false)

        let definition = try await rig.engine.validate(Self.rerunWorkflow, file: "w.yaml")
        let pending = try await rig.engine.submit(definition, file: "w.yaml", inputs: [], actor: "test", leased: false)
        do {
            _ = try await rig.engine.retry(pending, from: ["post"], actor: "test")
            Issue.record("a run that has not ended was run again")
        } catch let refusal as RunRetry.Refusal {
            #expect(!refusal.isInvalidRequest && refusal.description.contains("has not ended"), "\(refusal)")
        }
    }

}

extension EngineRig {
    /// Starts a run of `workflow` and executes it until it ends.
    func run(_ workflow: String) async throws -> RunID {
        let definition = try await engine.validate(workflow, file: "w.yaml")
        let id = try await engine.submit(definition, file: "w.yaml", inputs: [], actor: "test", leased: true)
        _ = try await engine.execute([id])
        return id
    }

    /// Retries run `id` and executes it again until it ends.
    func retry(_ id: RunID) async throws -> (RunRetry.Outcome, RunStatus?) {
        let outcome = try #require(try await engine.retry(id, actor: "test:retrier"))
        return (outcome, try await engine.resume(id))
    }

    func touch(_ name: String) {
        _ = FileManager.default.createFile(atPath: path(name), contents: Data())
    }
}
