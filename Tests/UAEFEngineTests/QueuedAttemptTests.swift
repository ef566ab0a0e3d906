import Foundation
import Logging
import Synchronization
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFStore
import UAEFTestSupport

/// What a worker reported, collected across tasks.
final class Reports: Sendable {
    private let events = Mutex<[Engine.QueuedAttemptEvent]>([])
    func append(_ event: Engine.QueuedAttemptEvent) { events.withLock { $0.append(event) } }
    var all: [Engine.QueuedAttemptEvent] { events.withLock { $0 } }
}

@Suite("Attempts queued for workers that serve their capability, on SQLite and PostgreSQL")
struct QueuedAttemptTests {
    /// An engine orchestrating runs in a process that serves only `cpu`, so `gpu` attempts are queued.
    func orchestrator(_ store: any WorkflowStore) async throws -> Engine {
        var configuration = Runner.Configuration()
        configuration.capabilities = ["cpu"]
        let engine = Engine(
            store: store, kinds: BuiltInAgents.registry, sections: [], configuration: configuration,
            logger: Logger(label: "test"))
        _ = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
            [AgentSpec(name: "gpu-box", kind: "command", capabilities: ["gpu"], maxConcurrency: 4, activate: true)],
            actor: "test")
        return engine
    }

    /// A gpu worker in this process, collecting what it reports, until the returned task is cancelled.
    func gpuWorker(_ store: any WorkflowStore, reports: Reports) -> Task<Void, Never> {
        let worker = Engine(store: store, kinds: BuiltInAgents.registry, sections: [], logger: Logger(label: "test"))
        return Task {
            await worker.executeQueuedAttempts(capabilities: ["gpu"]) { event in reports.append(event) }
        }
    }

    /// Waits until the agent's command has created `path`: the worker has claimed the attempt.
    func waitForFile(_ path: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: path) {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A workflow of one `gpu` task that runs `command` in a shell, with `settings` (task lines
    /// such as `timeout: 3s`).
    func gpuWorkflow(_ command: String, _ settings: String...) -> String {
        let lines = ["name: gpu", "tasks:", "  - id: train", "    capability: gpu"] + settings.map { "    " + $0 }
        return (lines + ["    with: {command: [sh, -c, '\(command)']}"]).joined(separator: "\n")
    }

    func start(_ engine: Engine, _ workflow: String) async throws -> RunID {
        let definition = try await engine.validate(workflow, file: "gpu.yaml")
        return try await engine.submit(definition, file: "gpu.yaml", inputs: [], actor: "test", leased: true)
    }

    @Test(
        "an attempt no worker serves times out and its queued task is cancelled, never executed; the retry runs on a worker that starts later",
        arguments: StoreBackend.allCases)
    func timeoutCancelsQueuedAttempt(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let engine = try await orchestrator(store)
        let id = try await start(
            engine,
            gpuWorkflow("echo trained", "timeout: 3s", "retry: {max_attempts: 8, backoff: 100ms, jitter: false}"))
        let reports = Reports()
        let execution = Task { try await engine.execute([id]) }
        // Attempt 1 times out after 3 s with no gpu worker; the worker starts before attempt 2.
        while try await store.snapshot(of: id, tenant: "default")?.attempts.first?.status != .timedOut {
            try await Task.sleep(for: .milliseconds(20))
        }
        let worker = gpuWorker(store, reports: reports)
        defer { worker.cancel() }
        #expect(try await execution.value[id] == .succeeded)
        let snapshot = try #require(try await store.snapshot(of: id, tenant: "default"))
        // Later attempts when a loaded machine kept the new worker from finishing the second in time
        // (its claims back off up to 5 s while the store is busy).
        let statuses = snapshot.attempts.map(\.status)
        #expect(statuses.last == .succeeded && statuses.dropLast().allSatisfy { $0 == .timedOut }, "\(statuses)")
        let finished = reports.all.compactMap { event -> Int? in
            guard case .finished(let task, .succeeded) = event else { return nil }
            return task.attempt
        }
        // On a loaded machine the worker may also finish attempt 2 after it timed out; attempt 1,
        // cancelled while queued, never reaches it.
        #expect(!finished.contains(1), "the cancelled attempt 1 was never handed to the worker: \(finished)")
        #expect(finished.last == statuses.count, "\(finished)")
    }

    /// Run `id` orchestrated by a `uaef worker` process serving only cpu, killed (SIGKILL) once it
    /// has queued its first attempt: the attempt stays queued, its run's lease held by a dead process.
    func orchestrateThenKill(_ id: RunID, _ location: TestStore) async throws {
        let (orchestrating, _, log) = try UAEFProcess.start(
            ["worker", "--allow-command", "--capability", "cpu", "--log-level", "info", "--store", location.url],
            in: location.directory.url)
        defer { if orchestrating.isRunning { kill(orchestrating.processIdentifier, SIGKILL) } }
        // Its log says when the attempt is in the queue (the attempt's start commits before).
        let deadline = ContinuousClock.now + .seconds(60)
        while !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("remote_task=") {
            guard ContinuousClock.now < deadline, orchestrating.isRunning else {
                Issue.record("the worker queued nothing: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(orchestrating.processIdentifier, SIGKILL)
        orchestrating.waitUntilExit()
    }

    /// A remote agent's claim, as `POST /v1/agents/me/claim` makes it.
    func claimAsRemoteAgent(_ store: any WorkflowStore, _ agent: AgentID) async throws -> RemoteTaskRecord? {
        let now = Date()
        return try await store.claimRemoteTask(
            agent: agent, capabilities: [], tenant: "default", now: now, leaseUntil: now.addingTimeInterval(30))
    }

    @Test(
        "an attempt queued by a killed orchestrator is withdrawn when its run is cancelled: neither a worker nor a remote agent takes it up, before or after a retry",
        arguments: StoreBackend.allCases)
    func withdrawnWhenCancelled(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let engine = try await orchestrator(store)
        let ran = location.directory.path("ran")
        let definition = try await engine.validate(gpuWorkflow("echo once >> \(ran)"), file: "gpu.yaml")
        let id = try await engine.submit(definition, file: "gpu.yaml", inputs: [], actor: "test", leased: false)
        try await orchestrateThenKill(id, location)
        // Cancelled with nobody alive holding it: attempt 1's queued task goes with it.
        #expect(try await engine.cancel(id, actor: "test")?.status == .cancelled)
        #expect(
            try await store.claimWorkerTask(capabilities: nil, tenant: "default", now: Date(), leaseUntil: Date() + 30)
                == nil)
        _ = try #require(try await engine.retry(id, actor: "test"))
        let reports = Reports()
        let worker = gpuWorker(store, reports: reports)
        defer { worker.cancel() }
        #expect(try await engine.resume(id) == .succeeded)
        let executed = reports.all.compactMap { event -> Int? in
            guard case .finished(let task, _) = event else { return nil }
            return task.attempt
        }
        #expect(executed == [2], "only the retry's attempt reached the worker: \(reports.all)")
        #expect(try String(contentsOfFile: ran, encoding: .utf8) == "once\n", "only the retry's attempt ran")

        // The same for a remote agent, which no worker-side check protects.
        let agent = try await registerRemoteAgent(store, engine)
        let remote = try await engine.submit(
            try await engine.validate(ocrWorkflow, file: "ocr.yaml"), file: "ocr.yaml", inputs: [], actor: "test",
            leased: false)
        try await orchestrateThenKill(remote, location)
        #expect(try await engine.cancel(remote, actor: "test")?.status == .cancelled)
        #expect(try await claimAsRemoteAgent(store, agent) == nil, "the cancelled run's attempt is not handed out")
    }

    @Test(
        "an attempt queued by a killed orchestrator is withdrawn when another process resumes the run: the remote agent is handed only its replacement",
        arguments: StoreBackend.allCases)
    func withdrawnWhenResumed(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let engine = try await orchestrator(store)
        let agent = try await registerRemoteAgent(store, engine)
        let id = try await engine.submit(
            try await engine.validate(ocrWorkflow, file: "ocr.yaml"), file: "ocr.yaml", inputs: [], actor: "test",
            leased: false)
        try await orchestrateThenKill(id, location)
        // A call attempt 1 made (as an `llm` agent's capability tool, keyed by the call): it stays
        // queued, for the replacing attempt's conversation to take up again.
        let call = try await store.enqueueRemoteTask(
            RemoteTaskRecord(
                id: "rtk_call", tenant: "default", agentID: AgentID("agt_tools"), runID: id, workflow: "ocr",
                key: "scan/tool", attempt: 1, idempotencyKey: "\(id.rawValue)/scan/tool/1/1", input: [:],
                createdAt: Date(), updatedAt: Date()))
        let resumed = Task { try await engine.resume(id) }
        // Once the replacement has started, the oldest claimable task would be attempt 1's, were
        // it not withdrawn.
        let deadline = ContinuousClock.now + .seconds(60)
        while try await store.snapshot(of: id, tenant: "default")?.attempts.count ?? 0 < 2 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await store.remoteTask(call.id, tenant: "default")?.status == .queued)
        var claimed: RemoteTaskRecord?
        while claimed == nil, ContinuousClock.now < deadline {
            claimed = try await claimAsRemoteAgent(store, agent)
            if claimed == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let task = try #require(claimed)
        #expect(task.attempt == 2 && task.idempotencyKey == "\(id.rawValue)/scan/2")
        _ = try await store.updateRemoteTask(
            task.id, tenant: "default", generation: task.generation, change: .succeed(["text": "ok"]), now: Date())
        #expect(try await resumed.value == .succeeded)
        let snapshot = try #require(try await store.snapshot(of: id, tenant: "default"))
        #expect(snapshot.attempts.map(\.status) == [.interrupted, .succeeded])
        #expect(try await claimAsRemoteAgent(store, agent) == nil, "attempt 1's task was withdrawn, not left queued")
    }

    @Test(
        "a retry withdraws what the run's earlier attempts left queued (a process stopped between an attempt's end and its task's withdrawal)",
        arguments: StoreBackend.allCases)
    func withdrawnWhenRetried(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let engine = try await orchestrator(store)
        let agent = try await registerRemoteAgent(store, engine)
        let definition = try await engine.validate(
            "name: once\ntasks:\n  - {id: fail, agent: command, with: {command: [sh, -c, 'exit 3']}}\n",
            file: "once.yaml")
        let id = try await engine.submit(definition, file: "once.yaml", inputs: [], actor: "test", leased: true)
        #expect(try await engine.execute([id])[id] == .failed)
        let attempt = try #require(try await store.snapshot(of: id, tenant: "default")?.attempts.first)
        let left = try await store.enqueueRemoteTask(
            RemoteTaskRecord(
                id: "rtk_left", tenant: "default", agentID: agent, runID: id, workflow: "once", key: attempt.key,
                attempt: attempt.number, idempotencyKey: attempt.idempotencyKey, input: [:], createdAt: Date(),
                updatedAt: Date()))
        _ = try #require(try await engine.retry(id, actor: "test"))
        #expect(try await store.remoteTask(left.id, tenant: "default")?.status == .cancelled)
        #expect(try await claimAsRemoteAgent(store, agent) == nil)
    }

    /// A workflow of one `ocr` task, which the remote agent registered by ``registerRemoteAgent`` serves.
    let ocrWorkflow = "name: ocr\ntasks:\n  - id: scan\n    capability: ocr\n"

    /// Registers `ocr-farm`, a remote agent serving `ocr`.
    func registerRemoteAgent(_ store: any WorkflowStore, _ engine: Engine) async throws -> AgentID {
        let registered = try await AgentRegistry(store: store, kinds: engine.kinds, tenant: "default").register(
            [AgentSpec(name: "ocr-farm", kind: "remote", capabilities: ["ocr"], maxConcurrency: 4, activate: true)],
            actor: "test")
        return try #require(registered.first).id
    }

    @Test(
        "a worker whose attempt ended at its run (run cancelled) stops the agent and records nothing",
        arguments: StoreBackend.allCases)
    func lostLeaseStopsAgent(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let directory = try TemporaryDirectory("queued-attempt")
        defer { directory.remove() }
        let (began, pidFile) = (directory.path("began"), directory.path("pid"))
        let engine = try await orchestrator(store)
        let reports = Reports()
        let worker = gpuWorker(store, reports: reports)
        defer { worker.cancel() }
        let id = try await start(engine, gpuWorkflow("echo $$ > \(pidFile); touch \(began); exec sleep 30"))
        let execution = Task { try await engine.execute([id]) }
        try await waitForFile(began)
        _ = try await engine.cancel(id, actor: "test")
        #expect(try await execution.value[id] == .cancelled)
        // The worker learns at its next heartbeat (within a second) and stops the command.
        let cancelled = ContinuousClock.now
        while ContinuousClock.now - cancelled < .seconds(20), reports.all.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        let reported = reports.all
        guard reported.count == 1, case .leaseLost(let task) = reported[0] else {
            Issue.record("expected one lost lease, got \(reported)")
            return
        }
        #expect(task.attempt == 1)
        #expect(try await store.remoteTask(task.id, tenant: "default")?.status == .cancelled)
        // The attempt ends only once its command has: the process is gone.
        let pid = try #require(
            pid_t(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the agent's command was stopped")
    }

    @Test(
        "a worker that stops hands its attempt back at once, and another worker executes it under the next generation",
        arguments: StoreBackend.allCases)
    func stoppingWorkerReleasesAttempt(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let directory = try TemporaryDirectory("queued-attempt")
        defer { directory.remove() }
        let began = directory.path("began")
        let engine = try await orchestrator(store)
        let first = Reports()
        let stopping = gpuWorker(store, reports: first)
        let id = try await start(engine, gpuWorkflow("test -f \(began) || { touch \(began); sleep 5; }; echo trained"))
        let execution = Task { try await engine.execute([id]) }
        try await waitForFile(began)
        stopping.cancel()
        await stopping.value
        guard case .released(let released) = try #require(first.all.first), first.all.count == 1 else {
            Issue.record("the stopping worker reported \(first.all)")
            return
        }
        // Queued again at once, not at the lease's expiry.
        #expect(try await store.remoteTask(released.id, tenant: "default")?.status == .queued)
        let second = Reports()
        let taking = gpuWorker(store, reports: second)
        defer { taking.cancel() }
        #expect(try await execution.value[id] == .succeeded)
        guard case .finished(let finished, .succeeded) = try #require(second.all.first) else {
            Issue.record("the second worker reported \(second.all)")
            return
        }
        #expect(finished.id == released.id && finished.generation == released.generation + 1)
        let snapshot = try #require(try await store.snapshot(of: id, tenant: "default"))
        #expect(snapshot.attempts.map(\.status) == [.succeeded], "the same attempt, executed again")
    }
}

@Suite("WakeSignal")
struct WakeSignalTests {
    @Test(
        "a wait ends at a signal after the generation it saw (at once for one already sent), at its limit, or when cancelled",
        .timeLimit(.minutes(3)))
    func wakes() async throws {
        // Each wait is limited to 120 s; the bounds below leave a loaded machine (the whole suite on
        // two cores) ample time, yet a wait that ran to its limit would still break them.
        let signal = WakeSignal()
        let seen = signal.generation
        signal.signal()
        let start = ContinuousClock.now
        await signal.wait(after: seen, atMost: .seconds(120))  // sent while "looking for work": no wait
        #expect(ContinuousClock.now - start < .seconds(40))

        let now = signal.generation
        let waiting = Task { await signal.wait(after: now, atMost: .seconds(120)) }
        try await Task.sleep(for: .milliseconds(50))
        signal.signal()
        await waiting.value
        #expect(ContinuousClock.now - start < .seconds(80))

        let limited = ContinuousClock.now
        await signal.wait(after: signal.generation, atMost: .milliseconds(100))
        #expect(ContinuousClock.now - limited >= .milliseconds(100))

        let cancelled = Task { await signal.wait(after: signal.generation, atMost: .seconds(120)) }
        cancelled.cancel()
        await cancelled.value
        #expect(ContinuousClock.now - start < .seconds(110))
    }
}
