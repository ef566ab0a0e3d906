import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Task checkpoints, on SQLite and PostgreSQL")
struct TaskCheckpointStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func save(_ value: JSONValue, attempt: Int, task: String = "import", in store: any WorkflowStore) async throws {
        try await store.saveTaskCheckpoint(
            TaskCheckpoint(
                tenant: "acme", run: RunID("run_1"), taskKey: task, value: value, attempt: attempt, updatedAt: now),
            event: EventDraft(
                id: "evt_\(task)_\(attempt)", time: now, type: "oracle.journal_import.submitted", actor: "engine",
                tenant: "acme", subject: "run_1/\(task)", data: ["attempt": .number(Number(attempt))]))
    }

    @Test(
        "a task's checkpoint is written with its event, replaced by the next, and kept apart per task and tenant",
        arguments: StoreBackend.allCases)
    func replaces(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        #expect(try await store.taskCheckpoint(tenant: "acme", run: RunID("run_1"), taskKey: "import") == nil)
        try await save(["phase": "submitting"], attempt: 1, in: store)
        try await save(["phase": "submitted", "request_id": "1650"], attempt: 2, in: store)
        try await save(["phase": "submitting"], attempt: 1, task: "other", in: store)
        let checkpoint = try #require(
            try await store.taskCheckpoint(tenant: "acme", run: RunID("run_1"), taskKey: "import"))
        #expect(checkpoint.value == ["phase": "submitted", "request_id": "1650"] && checkpoint.attempt == 2)
        #expect(checkpoint.updatedAt == now)
        #expect(try await store.taskCheckpoint(tenant: "other", run: RunID("run_1"), taskKey: "import") == nil)
        #expect(try await store.treeHead().size == 3, "each checkpoint is an event")
    }

    @Test(
        "a delivery's checkpoint is kept per connector and delivery, apart from any task's",
        arguments: StoreBackend.allCases)
    func deliveries(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        try await save(["phase": "submitting"], attempt: 1, task: "msg_1", in: store)
        try await store.saveTaskCheckpoint(
            .delivery(
                tenant: "acme", connector: "fusion", id: "msg_1", value: ["phase": "submitted"], attempt: 1,
                updatedAt: now),
            event: EventDraft(
                id: "evt_delivery", time: now, type: "oracle.journal_import.submitted", actor: "connector:fusion",
                tenant: "acme", subject: "stl_1", data: [:]))
        let checkpoint = try await store.deliveryCheckpoint(tenant: "acme", connector: "fusion", id: "msg_1")
        #expect(checkpoint?.value == ["phase": "submitted"])
        #expect(try await store.deliveryCheckpoint(tenant: "acme", connector: "other", id: "msg_1") == nil)
        #expect(try await store.deliveryCheckpoint(tenant: "globex", connector: "fusion", id: "msg_1") == nil)
        let task = try await store.taskCheckpoint(tenant: "acme", run: RunID("run_1"), taskKey: "msg_1")
        #expect(task?.value == ["phase": "submitting"])
    }
}
