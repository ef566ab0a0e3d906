import Foundation
import UAEFCore

/// What an attempt of a long task records for the attempts after it: one small JSON value per
/// task (an ERP job's request id while the task waits for the job, say), replaced as the task goes
/// on and written with a ledger event in one transaction. A retried or resumed attempt reads it
/// and goes on from there instead of starting the work again.
public struct TaskCheckpoint: Sendable, Equatable {
    public var tenant: String
    public var run: RunID
    public var taskKey: String
    public var value: JSONValue
    /// The attempt that wrote it.
    public var attempt: Int
    public var updatedAt: Date

    public init(tenant: String, run: RunID, taskKey: String, value: JSONValue, attempt: Int, updatedAt: Date) {
        self.tenant = tenant
        self.run = run
        self.taskKey = taskKey
        self.value = value
        self.attempt = attempt
        self.updatedAt = updatedAt
    }

    /// The largest value kept, as JSON text.
    public static let maximumBytes = 16 << 10

    /// The value a retry writes for a task it runs again from scratch: `{"afresh": retry}`, where
    /// `retry` is the run's retry count after it. Nothing to resume from; a kind whose work is
    /// keyed outside may tell the new go's work from the first's by it.
    public static func afresh(retry: Int) -> JSONValue { ["afresh": .number(Number(retry))] }

    /// The retry whose ``afresh(retry:)`` value this is, or nil.
    public var afreshRetry: Int? { value["afresh"]?.numberValue?.intValue }
}

/// The tasks' checkpoints.
public protocol TaskCheckpointStore: Sendable {
    /// The task's checkpoint, or nil when none was written. A retry that runs the task again from
    /// scratch (named in `uaef runs retry --from`) replaces it with ``afresh(retry:)``.
    func taskCheckpoint(tenant: String, run: RunID, taskKey: String) async throws -> TaskCheckpoint?
}

/// A checkpoint larger than ``TaskCheckpoint/maximumBytes``: nothing was written.
public struct TaskCheckpointTooLarge: Error, CustomStringConvertible {
    public var bytes: Int

    public var description: String {
        "a task checkpoint of \(bytes) bytes is larger than the \(TaskCheckpoint.maximumBytes) kept"
    }
}

extension WorkflowStore {
    /// Writes `checkpoint` (replacing the task's last one) and appends `event` in one transaction;
    /// throws ``TaskCheckpointTooLarge``, writing nothing, for a value past the limit.
    public func saveTaskCheckpoint(_ checkpoint: TaskCheckpoint, event: EventDraft) async throws {
        let bytes = checkpoint.value.jsonText.utf8.count
        guard bytes <= TaskCheckpoint.maximumBytes else { throw TaskCheckpointTooLarge(bytes: bytes) }
        var changes = ChangeSet()
        changes.taskCheckpoints = [checkpoint]
        changes.events = [event]
        try await commit(changes)
    }
}

extension TaskCheckpoint {
    /// The checkpoint of a subscription's delivery, for deliveries that wait on a long job at
    /// the receiver. It is kept beside the tasks' checkpoints under a run id no run has
    /// (``deliveryScope(connector:)``), with the delivery's id as the task key.
    public static func delivery(
        tenant: String, connector: String, id: String, value: JSONValue, attempt: Int, updatedAt: Date
    ) -> TaskCheckpoint {
        TaskCheckpoint(
            tenant: tenant, run: deliveryScope(connector: connector), taskKey: id, value: value, attempt: attempt,
            updatedAt: updatedAt)
    }

    /// Where a connector's delivery checkpoints are kept: `delivery:` and the connector's name
    /// (run ids are `run_…`, so it meets none).
    public static func deliveryScope(connector: String) -> RunID { RunID("delivery:" + connector) }
}

extension TaskCheckpointStore {
    /// The checkpoint of the connector's delivery `id`, or nil when none was written.
    public func deliveryCheckpoint(tenant: String, connector: String, id: String) async throws -> TaskCheckpoint? {
        try await taskCheckpoint(tenant: tenant, run: TaskCheckpoint.deliveryScope(connector: connector), taskKey: id)
    }
}
