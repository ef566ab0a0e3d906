import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Remote work queue and agent keys, on SQLite and PostgreSQL")
struct RemoteWorkStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func task(_ n: Int, agent: String = "agt_1") -> RemoteTaskRecord {
        RemoteTaskRecord(
            id: "rtk_\(n)", tenant: "acme", agentID: AgentID(agent), runID: RunID("run_\(n)"), workflow: "w", key: "t",
            attempt: 1, idempotencyKey: "run_\(n)/t/1", input: ["n": .number(Number(n))],
            createdAt: now.addingTimeInterval(Double(n)), updatedAt: now)
    }

    @Test(
        "a task is queued once per attempt; concurrent claims never share one; an expired lease is claimed again with the next generation",
        arguments: StoreBackend.allCases)
    func claims(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        for n in 1...20 { _ = try await store.enqueueRemoteTask(task(n)) }
        var again = task(1)
        again.id = "rtk_other"
        #expect(try await store.enqueueRemoteTask(again).id == "rtk_1")
        _ = try await store.enqueueRemoteTask(task(99, agent: "agt_2"))

        let lease = now.addingTimeInterval(30)
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var mine: [String] = []
                    while let task = try await store.claimRemoteTask(
                        agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: now, leaseUntil: lease)
                    {
                        mine.append(task.id)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.sorted() == (1...20).map { "rtk_\($0)" }.sorted())
        #expect(
            try await store.claimRemoteTask(
                agent: AgentID("agt_1"), capabilities: [], tenant: "other", now: now, leaseUntil: lease)
                == nil)

        // After the lease, the oldest is claimed again at generation 2; generation 1 can no longer finish it.
        let later = lease.addingTimeInterval(1)
        let reclaimed = try #require(
            try await store.claimRemoteTask(
                agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: later, leaseUntil: later + 30)
        )
        #expect(reclaimed.id == "rtk_1" && reclaimed.generation == 2)
        guard
            case .leaseLost = try await store.updateRemoteTask(
                "rtk_1", tenant: "acme", generation: 1, change: .succeed("late"), now: later)
        else {
            Issue.record("generation 1 still held the task")
            return
        }
        guard
            case .updated(let done) = try await store.updateRemoteTask(
                "rtk_1", tenant: "acme", generation: 2, change: .succeed(["ok": true]), now: later)
        else {
            Issue.record("generation 2 could not complete")
            return
        }
        #expect(done.status == .succeeded && done.output == ["ok": true])
        #expect(
            try await store.updateRemoteTask("rtk_1", tenant: "other", generation: 2, change: .succeed(1), now: later)
                == .notFound)

        // Cancelling refuses later completions; a finished task stays finished.
        #expect(try await store.cancelRemoteTasks(idempotencyKeys: ["run_2/t/1"], tenant: "other", now: later) == 0)
        #expect(
            try await store.cancelRemoteTasks(
                idempotencyKeys: ["run_2/t/1", "run_1/t/1", "run_x/t/1"], tenant: "acme", now: later) == 1)
        #expect(try await store.cancelRemoteTasks(idempotencyKeys: [], tenant: "acme", now: later) == 0)
        #expect(try await store.remoteTask("rtk_2", tenant: "acme")?.status == .cancelled)
        #expect(try await store.remoteTask("rtk_1", tenant: "acme")?.status == .succeeded)
        guard
            case .leaseLost = try await store.updateRemoteTask(
                "rtk_2", tenant: "acme", generation: 1, change: .heartbeat(until: later + 60), now: later)
        else {
            Issue.record("a cancelled task took a heartbeat")
            return
        }
    }

    @Test(
        "a run's unfinished tasks are withdrawn together, whatever their key, for its tenant only; other runs' and finished ones stay",
        arguments: StoreBackend.allCases)
    func withdrawRun(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        // Run 1's attempt, a call its attempt made (a key of its own), and one that finished; run 2's.
        var call = task(1)
        (call.id, call.key, call.idempotencyKey) = ("rtk_call", "t/tool", "run_1/t/tool/1")
        var finished = task(1)
        (finished.id, finished.attempt, finished.idempotencyKey) = ("rtk_done", 2, "run_1/t/2")
        finished.createdAt = now  // claimed first
        for queued in [task(1), call, finished, task(2)] { _ = try await store.enqueueRemoteTask(queued) }
        let lease = now.addingTimeInterval(30)
        let claim = {
            try await store.claimRemoteTask(
                agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: now, leaseUntil: lease)
        }
        #expect(try await claim()?.id == "rtk_done")
        _ = try await store.updateRemoteTask("rtk_done", tenant: "acme", generation: 1, change: .succeed(1), now: now)
        #expect(try await claim()?.id == "rtk_1")

        #expect(try await store.cancelRemoteTasks(ofRun: RunID("run_1"), tenant: "other", now: now) == 0)
        #expect(try await store.cancelRemoteTasks(ofRun: RunID("run_1"), tenant: "acme", now: now) == 2)
        var statuses: [String: RemoteTaskRecord.Status] = [:]
        for id in ["rtk_1", "rtk_call", "rtk_done", "rtk_2"] {
            statuses[id] = try await store.remoteTask(id, tenant: "acme")?.status
        }
        #expect(statuses == ["rtk_1": .cancelled, "rtk_call": .cancelled, "rtk_done": .succeeded, "rtk_2": .queued])
        // The claimant of the withdrawn one learns at its next heartbeat; nothing of run 1 is claimed again.
        guard
            case .leaseLost = try await store.updateRemoteTask(
                "rtk_1", tenant: "acme", generation: 1, change: .heartbeat(until: lease), now: now)
        else {
            Issue.record("a withdrawn task took a heartbeat")
            return
        }
        let next = try await store.claimRemoteTask(
            agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: lease + 1, leaseUntil: lease + 30)
        #expect(next?.id == "rtk_2")
    }

    @Test("a claim naming capabilities gets only tasks that asked for one of them", arguments: StoreBackend.allCases)
    func capabilityFilter(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var ocr = task(1)
        ocr.capability = "ocr"
        var translate = task(2)
        translate.capability = "translate"
        _ = try await store.enqueueRemoteTask(ocr)
        _ = try await store.enqueueRemoteTask(translate)
        let lease = now.addingTimeInterval(30)
        let claim = { (capabilities: [String]) in
            try await store.claimRemoteTask(
                agent: AgentID("agt_1"), capabilities: capabilities, tenant: "acme", now: now, leaseUntil: lease)
        }
        #expect(try await claim(["summarize"]) == nil)
        #expect(try await claim(["translate", "summarize"])?.id == "rtk_2")
        #expect(try await claim(["translate"]) == nil)
        let any = try await claim([])
        #expect(any?.id == "rtk_1" && any?.capability == "ocr")
    }

    @Test(
        "worker tasks go to workers serving their capability, never to the agent; agent tasks never to workers",
        arguments: StoreBackend.allCases)
    func workerPlacement(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        func workerTask(_ n: Int, _ capability: String) -> RemoteTaskRecord {
            var queued = task(n)
            queued.placement = .worker
            queued.kind = "command"
            queued.capability = capability
            return queued
        }
        var agentTask = task(1)
        agentTask.capability = "gpu"
        _ = try await store.enqueueRemoteTask(agentTask)
        _ = try await store.enqueueRemoteTask(workerTask(2, "gpu"))
        _ = try await store.enqueueRemoteTask(workerTask(3, "ocr"))
        let lease = now.addingTimeInterval(30)
        let claim = { (capabilities: [String]?) in
            try await store.claimWorkerTask(capabilities: capabilities, tenant: "acme", now: now, leaseUntil: lease)
        }
        #expect(try await store.claimWorkerTask(capabilities: nil, tenant: "other", now: now, leaseUntil: lease) == nil)
        #expect(try await claim(["translate"]) == nil)
        let gpu = try #require(try await claim(["gpu", "translate"]))
        #expect(gpu.id == "rtk_2" && gpu.placement == .worker && gpu.kind == "command" && gpu.generation == 1)
        #expect(try await claim(["gpu"]) == nil)
        // A worker serving every capability takes what is left for workers, not the agent's task.
        #expect(try await claim(nil)?.id == "rtk_3")
        #expect(try await claim(nil) == nil)
        // The agent sees only its own placement: its gpu task, not the workers'.
        let agents = try await store.claimRemoteTask(
            agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: now, leaseUntil: lease)
        #expect(agents?.id == "rtk_1" && agents?.placement == .agent)
        #expect(
            try await store.claimRemoteTask(
                agent: AgentID("agt_1"), capabilities: [], tenant: "acme", now: now, leaseUntil: lease) == nil)
        // An expired worker lease is taken over with the next generation.
        let later = lease.addingTimeInterval(1)
        let takenOver = try await store.claimWorkerTask(
            capabilities: ["gpu"], tenant: "acme", now: later, leaseUntil: later + 30)
        #expect(takenOver?.id == "rtk_2" && takenOver?.generation == 2)
    }

    @Test("agent keys are found by their digest only", arguments: StoreBackend.allCases)
    func keys(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let key = AgentKeyRecord(
            id: "uaef_ak_abcdefgh", tenant: "acme", agentID: AgentID("agt_1"), sha256: "digest", createdAt: now,
            createdBy: "test")
        try await store.saveAgentKey(key)
        #expect(try await store.agentKey(sha256: "digest") == key)
        #expect(try await store.agentKey(sha256: "uaef_ak_abcdefgh") == nil)
    }
}

@Suite("Sealed secrets, on SQLite and PostgreSQL")
struct SecretStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func event(_ type: String, _ n: Int = 0) -> EventDraft {
        EventDraft(
            id: "evt_\(type)_\(n)", time: now, type: type, actor: "test", tenant: "acme", subject: "secret/k", data: [:]
        )
    }

    @Test(
        "a secret is set, replaced, listed per tenant and deleted, each change with its event",
        arguments: StoreBackend.allCases)
    func secrets(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let secret = SecretRecord(
            tenant: "acme", name: "k", sealed: "c2VhbGVk", keyID: "0011aabb", updatedAt: now, updatedBy: "t")
        try await store.saveSecret(secret, event: event("secret.set"))
        var replaced = secret
        replaced.sealed = "bmV3"
        try await store.saveSecret(replaced, event: event("secret.set", 1))
        #expect(try await store.secret(named: "k", tenant: "acme") == replaced)
        #expect(try await store.secrets(tenant: "acme").map(\.name) == ["k"])
        #expect(try await store.secrets(tenant: "other").isEmpty)
        #expect(try await store.deleteSecret(named: "k", tenant: "other", event: event("secret.deleted")) == false)
        #expect(try await store.deleteSecret(named: "k", tenant: "acme", event: event("secret.deleted", 1)) == true)
        #expect(try await store.secret(named: "k", tenant: "acme") == nil)
        #expect(
            try await store.events(from: 0, limit: 10).map(\.event.type) == [
                "secret.set", "secret.set", "secret.deleted",
            ])
    }
}
