import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Workflow registry and run requests, on SQLite and PostgreSQL")
struct RegistryStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func workflow(_ name: String, _ version: Int, tenant: String = "acme") -> WorkflowRecord {
        WorkflowRecord(
            tenant: tenant, name: name, version: version, source: "name: \(name) # v\(version)",
            sha256: "sha-\(name)-\(version)", createdAt: now, createdBy: "test")
    }

    func run(_ id: String, workflow: String, status: RunStatus, tenant: String = "acme") -> RunRecord {
        RunRecord(
            id: RunID(id), tenant: tenant, workflowName: workflow, workflowVersion: 1, workflowSource: "name: w",
            workflowFile: "w.yaml", inputs: [:], status: status, createdAt: now, updatedAt: now)
    }

    func event(_ n: Int) -> EventDraft {
        EventDraft(id: "evt_\(n)", time: now, type: "t", actor: "test", tenant: "acme", subject: "s", data: [:])
    }

    @Test(
        "versions are listed per name and tenant; a taken version refuses the whole commit, event included",
        arguments: StoreBackend.allCases)
    func versions(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.workflows = [workflow("invoice", 1), workflow("invoice", 2), workflow("onboard", 1)]
        changes.workflows.append(workflow("invoice", 1, tenant: "other"))
        changes.events = [event(0)]
        try await store.commit(changes)

        #expect(
            try await store.workflows(tenant: "acme").map { "\($0.name) v\($0.version)" } == [
                "invoice v2", "onboard v1",
            ])
        #expect(
            try await store.workflowVersions(named: "invoice", tenant: "acme") == [
                workflow("invoice", 1), workflow("invoice", 2),
            ])
        #expect(try await store.workflowVersions(named: "invoice", tenant: "nobody").isEmpty)

        var duplicate = ChangeSet()
        duplicate.workflows = [workflow("onboard", 2), workflow("invoice", 2)]
        duplicate.events = [event(1)]
        await #expect(throws: KeyTaken(.workflowVersion, key: "invoice v2")) { try await store.commit(duplicate) }
        #expect(try await store.workflowVersions(named: "onboard", tenant: "acme").count == 1)
        #expect(try await store.events(from: 0, limit: 10).count == 1)
    }

    @Test("an idempotency key is held once per tenant; a second use writes nothing", arguments: StoreBackend.allCases)
    func runRequests(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var first = ChangeSet()
        first.runs = [run("run_1", workflow: "w", status: .pending)]
        first.runRequests = [
            RunRequestRecord(tenant: "acme", key: "k", sha256: "a", runID: RunID("run_1"), createdAt: now)
        ]
        try await store.commit(first)

        var second = ChangeSet()
        second.runs = [run("run_2", workflow: "w", status: .pending)]
        second.runRequests = [
            RunRequestRecord(tenant: "acme", key: "k", sha256: "b", runID: RunID("run_2"), createdAt: now)
        ]
        await #expect(throws: KeyTaken(.runRequest, key: "k")) { try await store.commit(second) }
        #expect(try await store.snapshot(of: RunID("run_2"), tenant: "acme") == nil)
        #expect(try await store.runRequest(key: "k", tenant: "acme")?.runID == RunID("run_1"))
        #expect(try await store.runRequest(key: "k", tenant: "other") == nil)

        // The same key in another tenant is another key.
        var other = ChangeSet()
        other.runs = [run("run_3", workflow: "w", status: .pending, tenant: "other")]
        other.runRequests = [
            RunRequestRecord(tenant: "other", key: "k", sha256: "b", runID: RunID("run_3"), createdAt: now)
        ]
        try await store.commit(other)
        #expect(try await store.runRequest(key: "k", tenant: "other")?.sha256 == "b")
    }

    @Test(
        "runs page newest first by cursor, filtered by status and workflow, within the tenant",
        arguments: StoreBackend.allCases)
    func runPages(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var changes = ChangeSet()
        changes.runs = (1...7).map { n in
            run("run_\(n)", workflow: n % 2 == 0 ? "even" : "odd", status: n <= 3 ? .succeeded : .pending)
        }
        changes.runs.append(run("run_9", workflow: "odd", status: .pending, tenant: "other"))
        try await store.commit(changes)

        var pages: [[String]] = []
        var cursor: RunID?
        repeat {
            let page = try await store.runs(tenant: "acme", matching: RunFilter(before: cursor), limit: 3)
            pages.append(page.map(\.id.rawValue))
            cursor = page.count == 3 ? page.last?.id : nil
        } while cursor != nil
        #expect(pages == [["run_7", "run_6", "run_5"], ["run_4", "run_3", "run_2"], ["run_1"]])
        #expect(
            try await store.runs(tenant: "acme", matching: RunFilter(status: .pending, workflow: "odd"), limit: 10)
                .map(\.id.rawValue) == ["run_7", "run_5"])
        #expect(try await store.tenantsWithUnfinishedRuns() == ["acme", "other"])
    }

    @Test(
        "task counts per run and status in one read: fan-out instances counted, other tenants' runs and runs without tasks absent",
        arguments: StoreBackend.allCases)
    func taskCounts(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        func task(_ run: String, _ key: String, _ status: TaskStatus, tenant: String = "acme") -> TaskRecord {
            TaskRecord(
                tenant: tenant, runID: RunID(run), key: key, taskID: String(key.prefix { $0 != "[" }),
                status: status, attempts: 0, updatedAt: now)
        }
        var changes = ChangeSet()
        changes.runs = [
            run("run_1", workflow: "w", status: .running), run("run_2", workflow: "w", status: .succeeded),
            run("run_3", workflow: "w", status: .pending),
            run("run_9", workflow: "w", status: .running, tenant: "other"),
        ]
        changes.tasks = [
            task("run_1", "fetch", .succeeded), task("run_1", "each", .running), task("run_1", "each[0]", .succeeded),
            task("run_1", "each[1]", .running), task("run_1", "each[2]", .retrying), task("run_1", "post", .pending),
            task("run_2", "only", .succeeded), task("run_9", "theirs", .failed, tenant: "other"),
        ]
        try await store.commit(changes)

        let counts = try await store.taskCounts(
            of: ["run_1", "run_2", "run_3", "run_9"].map(RunID.init), tenant: "acme")
        #expect(
            counts == [
                RunID("run_1"): [.succeeded: 2, .running: 2, .retrying: 1, .pending: 1],
                RunID("run_2"): [.succeeded: 1],
            ])
        #expect(try await store.taskCounts(of: [], tenant: "acme").isEmpty)
        #expect(try await store.taskCounts(of: [RunID("run_9")], tenant: "other") == [RunID("run_9"): [.failed: 1]])
    }

    @Test(
        "concurrent commits are all written, gap-free, except the one whose key is taken, which writes nothing",
        arguments: StoreBackend.allCases)
    func concurrentCommits(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        var first = ChangeSet()
        first.runRequests = [
            RunRequestRecord(tenant: "acme", key: "taken", sha256: "a", runID: RunID("run_0"), createdAt: now)
        ]
        first.runs = [run("run_0", workflow: "w", status: .pending)]
        first.events = [event(0)]
        try await store.commit(first)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for n in 1...40 {
                group.addTask {
                    var changes = ChangeSet()
                    changes.runs = [run("run_\(n)", workflow: "w", status: .pending)]
                    changes.events = [event(n), event(n + 100)]
                    if n == 17 {
                        changes.runRequests = [
                            RunRequestRecord(
                                tenant: "acme", key: "taken", sha256: "b", runID: RunID("run_17"), createdAt: now)
                        ]
                    }
                    do {
                        try await store.commit(changes)
                        return (n, true)
                    } catch {
                        return (n, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { !$0.value }.map(\.key) == [17])
        let events = try await store.events(from: 0, limit: 1000)
        #expect(events.map(\.seq) == Array(0..<Int64(events.count)))
        #expect(events.count == 1 + 39 * 2)
        #expect(try await store.snapshot(of: RunID("run_17"), tenant: "acme") == nil)
        #expect(try await store.runs(tenant: "acme", matching: RunFilter(), limit: 100).count == 40)
    }
}
