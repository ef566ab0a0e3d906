import Foundation
import Testing
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

/// Drives one state machine by hand: no store, no agents, no clock but the one set here.
struct Harness {
    var machine: RunStateMachine
    var environment: EngineEnvironment
    var events: [EventDraft] = []
    var committed = ChangeSet()

    init(_ yaml: String, agents: [AgentRecord] = [], capabilities: Set<String> = []) throws {
        let definition = try Fixtures.workflow(yaml, capabilities: capabilities)
        machine = RunStateMachine(definition: definition, run: Fixtures.run(definition), tasks: [], attempts: [])
        environment = EngineEnvironment(
            now: Date(timeIntervalSince1970: 1_800_000_000), random: SeededRandom(seed: 7),
            agents: AgentPool(agents: agents))
    }

    @discardableResult
    mutating func handle(_ input: EngineInput) -> [EngineAction] {
        let actions = machine.handle(input, in: &environment)
        let changes = machine.takeChanges()
        events += changes.events
        committed.append(changes)
        return actions
    }

    mutating func advance(_ seconds: Double) { environment.now.addTimeInterval(seconds) }

    func status(_ key: String) -> TaskStatus? { machine.tasks[key]?.status }

    static func started(_ actions: [EngineAction]) -> [AttemptRequest] {
        actions.compactMap { if case .startAttempt(let request) = $0 { request } else { nil } }
    }

    /// Completes every started attempt in `actions` with `result`, repeatedly, until nothing new starts.
    mutating func completeAll(_ actions: [EngineAction], with result: (AttemptRequest) -> AttemptResult) {
        var pending = Harness.started(actions)
        while let request = pending.first {
            pending.removeFirst()
            pending += Harness.started(
                handle(.attemptFinished(key: request.key, attempt: request.attempt, result: result(request))))
        }
    }
}

@Suite("Run state machine (no I/O)")
struct RunStateMachineTests {
    @Test("independent tasks start together; a dependent starts after both succeed; the run succeeds")
    func diamond() throws {
        var harness = try Harness(
            """
            name: d
            tasks:
              - {id: a, agent: noop}
              - {id: b, agent: noop}
              - {id: c, agent: noop, depends_on: [a, b]}
            """)
        let first = Harness.started(harness.handle(.start))
        #expect(first.map(\.key).sorted() == ["a", "b"])
        #expect(harness.status("c") == .pending)
        let afterA = harness.handle(.attemptFinished(key: "a", attempt: 1, result: .succeeded(.null)))
        #expect(Harness.started(afterA).isEmpty)
        let afterB = harness.handle(.attemptFinished(key: "b", attempt: 1, result: .succeeded(.null)))
        #expect(Harness.started(afterB).map(\.key) == ["c"])
        let end = harness.handle(.attemptFinished(key: "c", attempt: 1, result: .succeeded(.null)))
        #expect(end.contains(.runFinished(.succeeded)))
        #expect(harness.machine.run.status == .succeeded)
        #expect(harness.events.first?.type == "run.started")
        #expect(harness.events.last?.type == "run.succeeded")
        #expect(harness.events.filter { $0.type == "task.succeeded" }.count == 3)
    }

    @Test("outputs flow into templates with their types")
    func outputs() throws {
        var harness = try Harness(
            """
            name: o
            inputs: {rate: 0.1}
            tasks:
              - {id: a, agent: echo, with: {n: 5}}
              - {id: b, agent: echo, depends_on: [a], with: {total: "${{ tasks.a.output.n * inputs.rate }}", text: "n=${{ tasks.a.output.n }}"}}
            """)
        harness.completeAll(harness.handle(.start)) { .succeeded(.object($0.parameters)) }
        #expect(harness.machine.tasks["b"]?.output == ["total": .number(Number(parsing: "0.5")!), "text": "n=5"])
    }

    @Test(
        "trigger rules decide what runs after a failure",
        arguments: [
            ("none_failed", TaskStatus.skipped), ("all_success", .skipped), ("all_done", .succeeded),
            ("one_failed", .succeeded), ("one_success", .succeeded),
        ])
    func triggers(rule: String, expected: TaskStatus) throws {
        var harness = try Harness(
            """
            name: t
            tasks:
              - {id: ok, agent: noop}
              - {id: bad, agent: noop}
              - {id: after, agent: noop, depends_on: [ok, bad], trigger: \(rule)}
            """)
        harness.completeAll(harness.handle(.start)) { request in
            request.key == "bad" ? .failed(message: "boom", retryable: true) : .succeeded(.null)
        }
        #expect(harness.status("after") == expected)
        #expect(harness.machine.run.status == .failed)
        if expected == .skipped { #expect(harness.machine.tasks["after"]?.reason?.contains("bad failed") == true) }
    }

    @Test("one_failed is skipped when nothing failed; all_success skips after a skipped dependency")
    func triggersWithoutFailure() throws {
        var harness = try Harness(
            """
            name: t
            tasks:
              - {id: a, agent: noop}
              - {id: maybe, agent: noop, when: false}
              - {id: alert, agent: noop, depends_on: [a], trigger: one_failed}
              - {id: strict, agent: noop, depends_on: [a, maybe], trigger: all_success}
              - {id: lenient, agent: noop, depends_on: [a, maybe]}
            """)
        harness.completeAll(harness.handle(.start)) { _ in .succeeded(.null) }
        #expect(harness.status("maybe") == .skipped)
        #expect(harness.status("alert") == .skipped)
        #expect(harness.status("strict") == .skipped)
        #expect(harness.status("lenient") == .succeeded)
        #expect(harness.machine.run.status == .succeeded)
    }

    @Test("a failed attempt is retried after the backoff, and the task fails when attempts run out")
    func retries() throws {
        var harness = try Harness(
            """
            name: r
            tasks:
              - {id: a, agent: noop, retry: {max_attempts: 2, backoff: 1s, jitter: false}}
            """)
        harness.handle(.start)
        let retry = harness.handle(
            .attemptFinished(key: "a", attempt: 1, result: .failed(message: "flaky", retryable: true)))
        let due = harness.environment.now.addingTimeInterval(1)
        #expect(retry == [.scheduleRetry(key: "a", at: due)])
        #expect(harness.status("a") == .retrying)
        harness.advance(1)
        let second = Harness.started(harness.handle(.retryDue(key: "a")))
        #expect(second.map(\.attempt) == [2])
        #expect(second.first?.idempotencyKey == "run_test/a/2")
        let end = harness.handle(
            .attemptFinished(key: "a", attempt: 2, result: .failed(message: "still flaky", retryable: true)))
        #expect(end.contains(.runFinished(.failed)))
        #expect(harness.machine.tasks["a"]?.attempts == 2)
        #expect(harness.machine.tasks["a"]?.error == "still flaky")
    }

    @Test("a non-retryable failure fails at once; a stale completion is ignored")
    func nonRetryable() throws {
        var harness = try Harness("name: n\ntasks:\n  - {id: a, agent: noop, retry: {max_attempts: 5}}\n")
        harness.handle(.start)
        #expect(harness.handle(.attemptFinished(key: "a", attempt: 7, result: .succeeded(.null))).isEmpty)
        harness.handle(.attemptFinished(key: "a", attempt: 1, result: .failed(message: "bad input", retryable: false)))
        #expect(harness.status("a") == .failed)
    }

    @Test("a timed-out attempt records task.timed_out and is retried")
    func timeout() throws {
        var harness = try Harness(
            "name: t\ntasks:\n  - {id: a, agent: noop, timeout: 50ms, retry: {max_attempts: 2}}\n")
        let started = Harness.started(harness.handle(.start))
        #expect(started.first?.timeout == .milliseconds(50))
        harness.handle(.attemptFinished(key: "a", attempt: 1, result: .timedOut(after: .milliseconds(50))))
        #expect(harness.events.contains { $0.type == "task.timed_out" })
        #expect(harness.status("a") == .retrying)
        #expect(harness.committed.attempts.last?.status == .timedOut)
    }

    @Test("cancelling a run cancels its running attempts and everything not yet run")
    func cancel() throws {
        var harness = try Harness(
            "name: c\ntasks:\n  - {id: a, agent: noop}\n  - {id: b, agent: noop, depends_on: [a]}\n")
        harness.handle(.start)
        let actions = harness.handle(.cancel(actor: "cli:alice", reason: "changed my mind"))
        #expect(actions.contains(.cancelAttempt(key: "a")))
        #expect(actions.contains(.runFinished(.cancelled)))
        #expect(harness.status("a") == .cancelled && harness.status("b") == .cancelled)
        #expect(harness.events.last?.actor == "cli:alice")
        #expect(harness.handle(.attemptFinished(key: "a", attempt: 1, result: .succeeded(.null))).isEmpty)
    }

    @Test("for_each fans out per element; the task's output lists instance outputs in order")
    func fanOut() throws {
        var harness = try Harness(
            """
            name: f
            inputs: {items: [3, 1, 2]}
            tasks:
              - {id: each, agent: echo, for_each: "${{ inputs.items }}", with: {v: "${{ item * 10 }}", i: "${{ index }}"}}
              - {id: after, agent: echo, depends_on: [each], with: {all: "${{ tasks.each.output }}"}}
            """)
        let started = Harness.started(harness.handle(.start))
        #expect(started.map(\.key) == ["each[0]", "each[1]", "each[2]"])
        // Complete out of order: the output is still in element order.
        var pending = started.reversed().map { $0 }
        var next: [AttemptRequest] = []
        while let request = pending.popLast() {
            next += Harness.started(
                harness.handle(
                    .attemptFinished(key: request.key, attempt: 1, result: .succeeded(.object(request.parameters)))))
        }
        #expect(harness.machine.tasks["each"]?.output == [["v": 30, "i": 0], ["v": 10, "i": 1], ["v": 20, "i": 2]])
        #expect(next.first?.parameters["all"]?.arrayValue?.count == 3)
    }

    @Test("an empty for_each succeeds with an empty list")
    func emptyFanOut() throws {
        var harness = try Harness(
            "name: f\ninputs: {items: []}\ntasks:\n  - {id: each, agent: noop, for_each: \"${{ inputs.items }}\"}\n")
        #expect(harness.handle(.start).contains(.runFinished(.succeeded)))
        #expect(harness.machine.tasks["each"]?.output == [])
    }

    @Test("the run's concurrency limit bounds attempts running at once")
    func concurrency() throws {
        var yaml = "name: c\nconcurrency: 2\ntasks:\n"
        for index in 0..<5 { yaml += "  - {id: t\(index), agent: noop}\n" }
        var harness = try Harness(yaml)
        let first = Harness.started(harness.handle(.start))
        #expect(first.count == 2)
        let next = Harness.started(
            harness.handle(.attemptFinished(key: first[0].key, attempt: 1, result: .succeeded(.null))))
        #expect(next.count == 1)
    }

    @Test("a capability task waits while no agent is active, then goes to the least busy agent")
    func assignment() throws {
        let agents = [
            Fixtures.agent("one", capabilities: ["x"], maxConcurrency: 1, status: .registered),
            Fixtures.agent("two", capabilities: ["x"], maxConcurrency: 2, status: .registered),
        ]
        var harness = try Harness(
            "name: a\ntasks:\n  - {id: p, capability: x}\n  - {id: q, capability: x}\n  - {id: r, capability: x}\n",
            agents: agents, capabilities: ["x"])
        #expect(Harness.started(harness.handle(.start)).isEmpty)
        #expect(harness.status("p") == .waiting)
        #expect(harness.events.filter { $0.type == "task.waiting" }.count == 3)
        var active = agents
        for index in active.indices { active[index].status = .active }
        harness.environment.agents.update(agents: active, busyElsewhere: [:])
        let started = Harness.started(harness.handle(.agentsChanged))
        #expect(started.count == 3)
        #expect(started.map { $0.agent?.name ?? "" }.sorted() == ["one", "two", "two"])
        #expect(harness.machine.tasks["p"]?.agentID != nil)
    }

    @Test("after a crash, a task that was running counts the lost attempt and is retried; finished tasks never rerun")
    func recovery() throws {
        let yaml =
            "name: r\ntasks:\n  - {id: done, agent: noop}\n  - {id: cut, agent: noop, depends_on: [done], retry: {max_attempts: 3, backoff: 10ms, jitter: false}}\n"
        var harness = try Harness(yaml)
        harness.completeAll(harness.handle(.start)) { request in
            request.key == "done" ? .succeeded(.null) : .failed(message: "never delivered", retryable: true)
        }
        // Rebuild from what was committed when `cut` was running its second attempt.
        let definition = harness.machine.definition
        var tasks = harness.machine.tasks
        tasks["cut"]?.status = .running
        tasks["cut"]?.attempts = 2
        var run = harness.machine.run
        run.status = .running
        var restarted = RunStateMachine(definition: definition, run: run, tasks: Array(tasks.values), attempts: [])
        var environment = harness.environment
        let actions = restarted.handle(.start, in: &environment)
        #expect(Harness.started(actions).isEmpty)
        #expect(actions.contains { if case .scheduleRetry(key: "cut", _) = $0 { true } else { false } })
        #expect(restarted.tasks["cut"]?.attempts == 2)
        #expect(restarted.tasks["cut"]?.error?.contains("interrupted") == true)
        #expect(restarted.tasks["done"]?.status == .succeeded)
    }

    @Test("a when or with that fails to evaluate fails the task with the reason")
    func evaluationErrors() throws {
        var harness = try Harness(
            "name: e\ninputs: {x: 1}\ntasks:\n  - {id: a, agent: echo, with: {v: \"${{ inputs.x / 0 }}\"}}\n")
        harness.handle(.start)
        #expect(harness.status("a") == .failed)
        #expect(harness.machine.tasks["a"]?.error == "with: division by zero")
    }

    @Test("the run timeout fails the run and cancels what is running")
    func runTimeout() throws {
        var harness = try Harness("name: t\ntimeout: 1s\ntasks:\n  - {id: a, agent: noop}\n")
        harness.handle(.start)
        let actions = harness.handle(.runTimedOut)
        #expect(actions.contains(.cancelAttempt(key: "a")))
        #expect(harness.machine.run.status == .failed)
        #expect(harness.machine.run.error == "run timed out after 1s")
    }
}

@Suite("Run state machine recovery of fan-outs")
struct FanOutRecoveryTests {
    @Test("a fanned-out parent left running by a crash is not an attempt: only its instances are retried")
    func fanOutParentSurvivesRestart() throws {
        var harness = try Harness(
            "name: f\ntasks:\n  - {id: each, agent: noop, for_each: [1, 2], retry: {max_attempts: 3, backoff: 10ms, jitter: false}}\n"
        )
        harness.handle(.start)
        var run = harness.machine.run
        run.status = .running
        var restarted = RunStateMachine(
            definition: harness.machine.definition, run: run, tasks: Array(harness.machine.tasks.values), attempts: [])
        var environment = harness.environment
        let actions = restarted.handle(.start, in: &environment)
        #expect(restarted.tasks["each"]?.status == .running)
        #expect(restarted.tasks["each"]?.attempts == 0)
        let retried = actions.compactMap { if case .scheduleRetry(let key, _) = $0 { key } else { nil } }
        #expect(retried.sorted() == ["each[0]", "each[1]"])
    }
}

@Suite("Run state machine: what a crash may and may not cost")
struct InterruptionTests {
    /// Restarts the harness's run as a new process would: from the rows it committed.
    static func restart(_ harness: Harness) -> (RunStateMachine, EngineEnvironment) {
        var run = harness.machine.run
        run.status = .running
        let attempts = Dictionary(
            harness.committed.attempts.map { ("\($0.key)#\($0.number)", $0) }, uniquingKeysWith: { _, last in last }
        ).values
        return (
            RunStateMachine(
                definition: harness.machine.definition, run: run, tasks: Array(harness.machine.tasks.values),
                attempts: Array(attempts)),
            harness.environment
        )
    }

    @Test(
        "an attempt cut off by a crash does not spend the task's one attempt: it runs again at once and the run succeeds"
    )
    func interruptionIsNotAnAttempt() throws {
        var harness = try Harness("name: i\ntasks:\n  - {id: work, agent: command, with: {command: [true]}}\n")
        #expect(Harness.started(harness.handle(.start)).map(\.attempt) == [1])
        var (restarted, environment) = Self.restart(harness)
        let actions = restarted.handle(.start, in: &environment)
        #expect(restarted.tasks["work"]?.status == .retrying)
        let due = actions.compactMap { if case .scheduleRetry(_, let at) = $0 { at } else { nil } }
        #expect(due == [environment.now])
        let interrupted = restarted.takeChanges().attempts.first
        #expect(interrupted?.status == .interrupted)
        let again = Harness.started(restarted.handle(.retryDue(key: "work"), in: &environment))
        #expect(again.map(\.attempt) == [2])
        let end = restarted.handle(
            .attemptFinished(key: "work", attempt: 2, result: .succeeded(.null)), in: &environment)
        #expect(end.contains(.runFinished(.succeeded)))
    }

    @Test("a task whose attempt is cut off more than 5 times fails, saying so; ordinary failures still count")
    func interruptionsAreBounded() throws {
        var harness = try Harness("name: i\ntasks:\n  - {id: work, agent: command, with: {command: [true]}}\n")
        harness.handle(.start)
        for round in 1...(RetryPolicy.maximumInterruptions + 1) {
            (harness.machine, harness.environment) = Self.restart(harness)
            harness.handle(.start)
            if round <= RetryPolicy.maximumInterruptions {
                #expect(harness.status("work") == .retrying)
                #expect(Harness.started(harness.handle(.retryDue(key: "work"))).map(\.attempt) == [round + 1])
            }
        }
        #expect(harness.status("work") == .failed)
        #expect(harness.machine.tasks["work"]?.error?.contains("interrupted 6 times") == true)
    }

    @Test("with 2 execution slots, 5 ready tasks record 2 starts; each freed slot starts one more")
    func startsOnlyWithASlot() throws {
        var harness = try Harness(
            """
            name: s
            tasks:
              - {id: work, agent: command, for_each: [1, 2, 3, 4, 5], with: {command: [true]}}
              - {id: quick, agent: echo}
            """)
        harness.environment.executionSlots = 2
        harness.environment.slotFreeKinds = ["echo", "noop"]
        let first = Harness.started(harness.handle(.start))
        #expect(first.filter { $0.kind == "command" }.count == 2)
        #expect(first.contains { $0.key == "quick" })
        #expect(harness.events.filter { $0.type == "task.started" && $0.subject.contains("work[") }.count == 2)
        #expect(harness.machine.isWaitingForSlot)
        let running = try #require(first.first { $0.kind == "command" })
        let next = Harness.started(
            harness.handle(.attemptFinished(key: running.key, attempt: 1, result: .succeeded(.null))))
        #expect(next.count == 1)
        #expect(harness.events.filter { $0.type == "task.started" && $0.subject.contains("work[") }.count == 3)
        #expect(harness.environment.executionSlots == 0)
    }
}

@Suite("Agent pool")
struct AgentPoolTests {
    @Test("attempts other processes run count against max_concurrency; the least busy agent wins")
    func busyElsewhere() {
        let one = Fixtures.agent("one", capabilities: ["x"], maxConcurrency: 1)
        let two = Fixtures.agent("two", capabilities: ["x"], maxConcurrency: 3)
        var pool = AgentPool(agents: [one, two], busyElsewhere: [two.id: 1])
        #expect(pool.reserve("x")?.name == "one")
        #expect(pool.reserve("x")?.name == "two")
        #expect(pool.reserve("x")?.name == "two")
        #expect(pool.reserve("x") == nil)
        pool.release(one.id)
        #expect(pool.reserve("x")?.name == "one")
        #expect(pool.reserve("y") == nil)
    }
}
