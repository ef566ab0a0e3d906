import Foundation
import Testing
import UAEFCore
import UAEFLedger
import UAEFStore
import UAEFTestSupport

@Suite("Store contract, on SQLite and PostgreSQL")
struct StoreContractTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func event(_ type: String, _ n: Int) -> EventDraft {
        EventDraft(
            id: "evt_\(type)_\(n)", time: now, type: type, actor: "test", tenant: "default", subject: "s",
            data: ["n": .number(Number(n))])
    }

    func run(_ id: String, status: RunStatus = .pending, owner: String? = nil, lease: Date? = nil) -> RunRecord {
        RunRecord(
            id: RunID(id), tenant: "default", workflowName: "w", workflowVersion: 1, workflowSource: "name: w",
            workflowFile: "w.yaml", inputs: ["x": 1], status: status, createdAt: now, updatedAt: now, owner: owner,
            leaseExpiresAt: lease)
    }

    @Test(
        "events are numbered gap-free from 0 across commits, in commit order, and survive reopening",
        arguments: StoreBackend.allCases)
    func gapFreeEvents(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        do {
            let store = try await location.open()
            var first = ChangeSet()
            first.events = [event("a", 0), event("a", 1)]
            try await store.commit(first)
            var second = ChangeSet()
            second.events = [event("b", 2)]
            try await store.commit(second)
        }
        let reopened = try await location.open()
        let events = try await reopened.events(from: 0, limit: 10)
        #expect(events.map(\.seq) == [0, 1, 2])
        #expect(events.map(\.event.type) == ["a", "a", "b"])
        #expect(events[2].event.data == ["n": 2])
        #expect(events[0].event.time == now)
    }

    @Test(
        "a run's events are its own and its tasks' (subject run or run/…), of its tenant only, in order from a seq",
        arguments: StoreBackend.allCases)
    func runEvents(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        for (n, (tenant, subject)) in [
            ("acme", "run_A"), ("acme", "run_AB"), ("acme", "run_A/fetch"), ("globex", "run_A"),
            ("acme", "run_A/each[2]"), ("acme", "stl_run_A"), ("acme", "run_A-x"),
        ].enumerated() {
            changes.events.append(
                EventDraft(
                    id: "evt_\(n)", time: now, type: "t", actor: "test", tenant: tenant, subject: subject, data: [:]))
        }
        try await store.commit(changes)
        let all = try await store.runEvents(of: RunID("run_A"), tenant: "acme", from: 0, limit: 10)
        #expect(all.map(\.seq) == [0, 2, 4])
        #expect(all.map(\.event.subject) == ["run_A", "run_A/fetch", "run_A/each[2]"])
        #expect(try await store.runEvents(of: RunID("run_A"), tenant: "acme", from: 1, limit: 1).map(\.seq) == [2])
        #expect(try await store.runEvents(of: RunID("run_A"), tenant: "globex", from: 0, limit: 10).map(\.seq) == [3])
        #expect(try await store.runEvents(of: RunID("run_Z"), tenant: "acme", from: 0, limit: 10).isEmpty)
        let task = try await store.taskEvents(of: RunID("run_A"), key: "each[2]", tenant: "acme", from: 0, limit: 10)
        #expect(task.map(\.seq) == [4])
        #expect(
            try await store.taskEvents(of: RunID("run_A"), key: "each[2]", tenant: "acme", from: 5, limit: 10).isEmpty)
        #expect(
            try await store.taskEvents(of: RunID("run_A"), key: "each[2]", tenant: "acme", from: 4, limit: 1).count == 1
        )
        #expect(
            try await store.taskEvents(of: RunID("run_A"), key: "fetch", tenant: "globex", from: 0, limit: 10).isEmpty)
    }

    @Test("a failed transaction writes nothing: no rows and no events", arguments: StoreBackend.allCases)
    func atomicity(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.runs = [run("run_a")]
        changes.events = [event("x", 0), event("x", 0)]  // duplicate event id violates a unique key
        await #expect(throws: (any Error).self) { try await store.commit(changes) }
        #expect(try await store.events(from: 0, limit: 10).isEmpty)
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "default") == nil)
    }

    @Test(
        "updating a run never clears a cancellation request, a lease or the trace it was created in; the record reads alone",
        arguments: StoreBackend.allCases)
    func runUpdatesKeepCancellation(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var create = ChangeSet()
        let traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        create.runs = [run("run_a", owner: "h/1", lease: now.addingTimeInterval(60))]
        create.runs[0].traceParent = traceParent
        try await store.commit(create)
        _ = try await store.requestCancel(
            of: RunID("run_a"), tenant: "default", event: event("run.cancel_requested", 0))
        // Asked again: the run as it is, and no second event; another tenant's: nothing.
        let again = try await store.requestCancel(
            of: RunID("run_a"), tenant: "default", event: event("run.cancel_requested", 1))
        #expect(again?.cancelRequested == true)
        #expect(try await store.events(from: 0, limit: 10).map(\.event.id) == ["evt_run.cancel_requested_0"])
        #expect(
            try await store.requestCancel(
                of: RunID("run_a"), tenant: "other", event: event("run.cancel_requested", 1)) == nil)
        var update = ChangeSet()
        update.runs = [run("run_a", status: .running)]
        try await store.commit(update)
        let stored = try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run
        #expect(stored?.status == .running)
        #expect(stored?.cancelRequested == true)
        #expect(stored?.owner == "h/1")
        #expect(stored?.traceParent == traceParent)
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "other") == nil)
        // The record alone reads the same row.
        #expect(try await store.run(RunID("run_a"), tenant: "default") == stored)
        #expect(try await store.run(RunID("run_a"), tenant: "other") == nil)
        #expect(try await store.run(RunID("run_none"), tenant: "default") == nil)
    }

    @Test(
        "a run's snapshot is one view: its record, tasks and attempts as of one commit, while commits land between its reads",
        arguments: StoreBackend.allCases)
    func snapshotIsOneView(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        // Commit n: the run updated at now + n, its one task at its nth attempt, n attempts in all.
        func changes(_ n: Int) -> ChangeSet {
            let time = now.addingTimeInterval(Double(n))
            var changes = ChangeSet()
            var record = run("run_a", status: .running)
            record.updatedAt = time
            changes.runs = [record]
            changes.tasks = [
                TaskRecord(
                    tenant: "default", runID: RunID("run_a"), key: "t", taskID: "t", status: .running, attempts: n,
                    updatedAt: time)
            ]
            changes.attempts = [
                AttemptRecord(
                    tenant: "default", runID: RunID("run_a"), key: "t", number: n, idempotencyKey: "run_a/t/\(n)",
                    agentID: nil, status: .running, startedAt: time)
            ]
            return changes
        }
        let commits = 300
        try await store.commit(changes(1))
        let writing = Task { for n in 2...commits { try await store.commit(changes(n)) } }
        var reads = 0
        var mixed: [String] = []
        var seen = 1
        while seen < commits {
            let snapshot = try #require(try await store.snapshot(of: RunID("run_a"), tenant: "default"))
            seen = Int(snapshot.run.updatedAt.timeIntervalSince(now))
            let view = "run at \(seen), task at \(snapshot.tasks.map(\.attempts)), \(snapshot.attempts.count) attempts"
            if snapshot.tasks.map(\.attempts) != [seen] || snapshot.attempts.count != seen { mixed.append(view) }
            reads += 1
        }
        try await writing.value
        #expect(mixed.count == 0, "\(mixed.count) of \(reads) snapshots mixed two commits, first: \(mixed.first ?? "")")
    }

    @Test(
        "a tenant's unfinished runs are claimed unless a live holder's lease is current; renewals skip leases renewed lately",
        arguments: StoreBackend.allCases)
    func leases(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.runs = [
            run("run_live", owner: "h/1", lease: now.addingTimeInterval(60)),
            run("run_dead", owner: "h/2", lease: now.addingTimeInterval(60)),
            run("run_expired", owner: "h/1", lease: now.addingTimeInterval(-1)),
            run("run_free"),
            run("run_done", status: .succeeded),
        ]
        var foreign = run("run_other_tenant")
        foreign.tenant = "other"
        changes.runs.append(foreign)
        try await store.commit(changes)
        let claimed = try await store.claimUnfinishedRuns(
            tenant: "default", owner: "h/9", now: now, expiresAt: now.addingTimeInterval(15), limit: 10,
            isOwnerAlive: { $0 == "h/1" })
        #expect(claimed.map(\.rawValue) == ["run_dead", "run_expired", "run_free"])
        func lease(_ id: String) async throws -> Date? {
            try await store.snapshot(of: RunID(id), tenant: "default")?.run.leaseExpiresAt
        }
        // A lease still good past `renewingBefore` is left alone; cancellation is reported anyway.
        _ = try await store.requestCancel(
            of: RunID("run_free"), tenant: "default", event: event("run.cancel_requested", 0))
        var cancelled = try await store.renewLeases(
            owner: "h/9", runs: claimed, expiresAt: now.addingTimeInterval(30),
            renewingBefore: now.addingTimeInterval(10))
        #expect(cancelled == [RunID("run_free")])
        #expect(try await lease("run_dead") == now.addingTimeInterval(15))
        cancelled = try await store.renewLeases(
            owner: "h/9", runs: claimed, expiresAt: now.addingTimeInterval(30),
            renewingBefore: now.addingTimeInterval(20))
        #expect(cancelled == [RunID("run_free")])
        #expect(try await lease("run_dead") == now.addingTimeInterval(30))
        // Only the holder's leases move.
        _ = try await store.renewLeases(
            owner: "h/9", runs: [RunID("run_live")], expiresAt: now.addingTimeInterval(90),
            renewingBefore: now.addingTimeInterval(120))
        #expect(try await lease("run_live") == now.addingTimeInterval(60))
        #expect(
            try await store.claim(
                RunID("run_live"), owner: "h/9", now: now, expiresAt: now, isOwnerAlive: { _ in true }) == false)
    }

    @Test(
        "claims respect their limit and take the next lease generation; a commit fenced with an older one is refused whole",
        arguments: StoreBackend.allCases)
    func fencing(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var create = ChangeSet()
        create.runs = [run("run_a"), run("run_b"), run("run_c")]
        try await store.commit(create)
        func claim(_ owner: String, limit: Int, at time: Date) async throws -> [String] {
            try await store.claimUnfinishedRuns(
                tenant: "default", owner: owner, now: time, expiresAt: time.addingTimeInterval(15), limit: limit,
                isOwnerAlive: { _ in true }
            ).map(\.rawValue)
        }
        #expect(try await claim("w/1", limit: 2, at: now) == ["run_a", "run_b"])
        // A live lease is not claimed again, not even by its holder.
        #expect(try await claim("w/1", limit: 5, at: now) == ["run_c"])
        let first = try #require(try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run)
        #expect(first.owner == "w/1" && first.leaseGeneration == 1)
        // w/1 stalls; its lease expires and w/2 takes the run over.
        #expect(try await claim("w/2", limit: 1, at: now.addingTimeInterval(20)) == ["run_a"])
        var stale = ChangeSet()
        stale.runs = [run("run_a", status: .succeeded)]
        stale.events = [event("late", 0)]
        stale.fence = LeaseFence(owner: "w/1", generations: [RunID("run_a"): 1])
        await #expect(throws: LeaseLost.self) { try await store.commit(stale) }
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run.status == .pending)
        #expect(try await store.events(from: 0, limit: 10).isEmpty)
        var current = stale
        current.fence = LeaseFence(owner: "w/2", generations: [RunID("run_a"): 2])
        try await store.commit(current)
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run.status == .succeeded)
    }

    @Test(
        "agent metrics come from attempts: counts, running now, nearest-rank p50 and p95",
        arguments: StoreBackend.allCases)
    func metrics(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.runs = [run("run_a")]
        let agent = AgentID("agt_1")
        for number in 1...20 {
            changes.attempts.append(
                AttemptRecord(
                    tenant: "default", runID: RunID("run_a"), key: "t", number: number, idempotencyKey: "k\(number)",
                    agentID: agent, status: number == 20 ? .running : (number % 5 == 0 ? .failed : .succeeded),
                    startedAt: now, endedAt: number == 20 ? nil : now.addingTimeInterval(Double(number) / 1000)))
        }
        try await store.commit(changes)
        let metrics = try await store.metrics(of: agent)
        #expect(metrics.attempts == 20)
        #expect(metrics.runningNow == 1)
        #expect(metrics.failures == 3)
        #expect(metrics.successes == 16)
        #expect(metrics.p50Milliseconds == 10)
        #expect(metrics.p95Milliseconds == 19)
    }
}

@Suite("Store ledger, on SQLite and PostgreSQL")
struct StoreLedgerTests {
    let contract = StoreContractTests()
    var now: Date { contract.now }

    func run(_ id: String, status: RunStatus) -> RunRecord { contract.run(id, status: status) }

    @Test(
        "every commit appends its events as leaves; heads, roots and proofs match an independent tree",
        arguments: StoreBackend.allCases)
    func ledgerMatchesIndependentTree(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "ledger")
        defer { location.remove() }
        let store = try await location.open()
        let time = Date(timeIntervalSince1970: 1_800_000_000)
        var sizes: [Int] = []
        var total = 0
        for batch in [1, 2, 5, 1, 17, 3, 40] {
            var changes = ChangeSet()
            for _ in 0..<batch {
                changes.events.append(
                    EventDraft(
                        id: "evt_\(total)", time: time, type: "test.event", actor: "test", tenant: "default",
                        subject: "s/\(total)", data: ["n": .number(Number(total)), "text": "é\n\"x\""]))
                total += 1
            }
            try await store.commit(changes)
            sizes.append(total)
            #expect(try await store.treeHead().size == total)
        }
        // An independent tree over the exported events' canonical bytes.
        var log = MerkleLog()
        for record in try await store.events(from: 0, limit: 1000) {
            log.append(.leaf(CanonicalJSON.bytes(record.ledgerObject)))
        }
        #expect(try await store.treeHead().root == log.root())
        for size in sizes { #expect(try await store.root(size: size) == log.root(size: size)) }
        for index in [0, 1, 7, 30, total - 1] {
            let proof = try #require(try await store.inclusionProof(index: index, size: total))
            try ProofVerifier.verifyInclusion(
                leaf: log.subtreeHash(level: 0, index: index), index: index, size: total, proof: proof, root: log.root()
            )
        }
        let consistency = try #require(try await store.consistencyProof(from: 8, to: total))
        try ProofVerifier.verifyConsistency(
            oldSize: 8, newSize: total, oldRoot: log.root(size: 8), newRoot: log.root(), proof: consistency)
        // Reopening continues the same tree.
        let reopened = try await location.open()
        var more = ChangeSet()
        more.events = [
            EventDraft(id: "evt_last", time: time, type: "t", actor: "a", tenant: "default", subject: "s", data: [:])
        ]
        try await reopened.commit(more)
        log.append(
            .leaf(
                CanonicalJSON.bytes(
                    try #require(try await reopened.events(from: Int64(total), limit: 1).first).ledgerObject)))
        #expect(try await reopened.treeHead().root == log.root())
    }

    @Test(
        "payloads are stored beside their event as digests in its leaf; redaction erases them only for ended runs",
        arguments: StoreBackend.allCases)
    func payloadsAndRedaction(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.runs = [run("run_a", status: .running)]
        let output: JSONValue = ["name": "Ada Lovelace", "amount": .number(Number(parsing: "12.50")!)]
        changes.events = [
            EventDraft(
                id: "evt_1", time: now, type: "task.succeeded", actor: "engine", tenant: "default",
                subject: "run_a/t", data: ["attempt": 1], payloads: ["output": output]),
            EventDraft(
                id: "evt_2", time: now, type: "task.succeeded", actor: "engine", tenant: "default",
                subject: "run_ab/t", data: ["attempt": 1], payloads: ["output": "another run's"]),
            // Another tenant's event under the very same subject: never the redaction's business.
            EventDraft(
                id: "evt_3", time: now, type: "signal.x", actor: "api:eve", tenant: "other",
                subject: "run_a/t", data: [:], payloads: ["input": "another tenant's"]),
        ]
        try await store.commit(changes)
        let stored = try await store.events(from: 0, limit: 10)
        let digest = ContentDigest.sha256(CanonicalJSON.bytes(output))
        #expect(stored[0].event.data == ["attempt": 1, "output_sha256": .string(digest)])
        #expect(stored[0].event.payloads == ["output": output])
        // The leaf commits to the digest, not the payload.
        let leaves = try await store.ledgerEvents(from: 0, limit: 1)
        #expect(leaves[0].storedLeaf == stored[0].leafHash)
        let redaction = EventDraft(
            id: "evt_r", time: now, type: "payload.redacted", actor: "cli:dpo", tenant: "default", subject: "run_a",
            data: ["reason": "erasure"])
        // A run still executing keeps its payloads; another tenant's run is not found.
        guard
            case .runActive(.running) = try await store.redactPayloads(
                of: RunID("run_a"), tenant: "default", task: nil, event: redaction)
        else {
            Issue.record("an active run was redacted")
            return
        }
        guard
            case .runNotFound = try await store.redactPayloads(
                of: RunID("run_a"), tenant: "other", task: nil, event: redaction)
        else {
            Issue.record("another tenant's run was found")
            return
        }
        #expect(try await store.events(from: 0, limit: 10).count == 3)

        var ended = ChangeSet()
        ended.runs = [run("run_a", status: .succeeded)]
        try await store.commit(ended)
        guard
            case .redacted(let record) = try await store.redactPayloads(
                of: RunID("run_a"), tenant: "default", task: nil, event: redaction)
        else {
            Issue.record("the ended run was not redacted")
            return
        }
        #expect(record.seq == 3)
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run.updatedAt == redaction.time)
        #expect(record.event.data["erased"] == [["seq": 0, "name": "output", "sha256": .string(digest)]])
        let after = try await store.events(from: 0, limit: 10)
        #expect(after[0].event.payloads.isEmpty && after[0].event.data == stored[0].event.data)
        #expect(after[1].event.payloads == ["output": "another run's"])  // a run id that merely shares a prefix
        #expect(after[2].event.payloads == ["input": "another tenant's"])
        #expect(try await store.snapshot(of: RunID("run_a"), tenant: "default")?.run.inputs == [:])
        let report = try await LedgerVerifier(store: store, verifier: nil).verify()
        #expect(report.problem == nil && report.payloads == 2 && report.redactedPayloads == 1)
    }

    @Test(
        "a large batch (prepared on a second thread) is stored in order, text intact, and verifies",
        arguments: StoreBackend.allCases)
    func largeBatch(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.events = (0..<5_000).map { index in
            EventDraft(
                id: "evt_\(index)", time: now, type: "t", actor: index == 4_321 ? "" : "engine", tenant: "default",
                subject: "run_x/\(index)", data: ["n": .number(Number(index))],
                payloads: index % 3 == 0 ? ["output": .string("é\n\(index)")] : [:])
        }
        try await store.commit(changes)
        let stored = try await store.events(from: 0, limit: 10_000)
        #expect(stored.map(\.seq) == (0..<5_000).map(Int64.init))
        #expect(stored.map(\.event.id) == changes.events.map(\.id))
        #expect(stored[4_321].event.actor == "")
        #expect(stored[3].event.payloads == ["output": "é\n3"])
        let report = try await LedgerVerifier(store: store, verifier: nil).verify()
        #expect(report.problem == nil && report.events == 5_000 && report.payloads == 1_667)
        #expect(try await store.ledgerEvents(from: 4_999, limit: 1).first?.storedLeaf == stored[4_999].leafHash)
    }
}

@Suite("Checkpoints, on SQLite and PostgreSQL")
struct CheckpointerTests {
    @Test(
        "a checkpoint of the empty tree is extended by the next; a later one needs a valid consistency proof",
        arguments: StoreBackend.allCases)
    func emptyThenGrown(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        let checkpointer = Checkpointer(store: store, signer: try NoteSigner(generatingFor: "uaef.local/test"))
        let empty = try await checkpointer.checkpoint()
        #expect(empty.contains("\n0\n"))
        for size in [3, 8] {
            var changes = ChangeSet()
            let time = Date(timeIntervalSince1970: 1_800_000_000)
            let first = try await store.treeHead().size
            changes.events = (first..<size).map {
                EventDraft(
                    id: "evt_\($0)", time: time, type: "t", actor: "a", tenant: "default", subject: "s", data: [:])
            }
            try await store.commit(changes)
            #expect(try await checkpointer.checkpoint().contains("\n\(size)\n"))
        }
        #expect(try await store.checkpoints().map(\.size) == [0, 3, 8])
    }
}
