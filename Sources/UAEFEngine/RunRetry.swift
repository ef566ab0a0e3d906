import Foundation
import UAEFCore
import UAEFStore

/// Retrying a run that failed or was cancelled from where it stopped, as AWS Step Functions'
/// redrive and Airflow's clearing of failed tasks do: what succeeded keeps its output and does
/// not run again; what failed or was cancelled runs again, and so does every task downstream of
/// it, whatever it did before (its inputs may change).
///
/// A fanned-out task whose own dependencies are kept runs only its instances that did not
/// succeed. One that depends on a reopened task is expanded again from its `for_each`: its old
/// instances are set aside as skipped, and those the new list reaches again are replaced. A
/// reopened task gets its `retry.max_attempts` afresh; its attempts keep their numbers (and so
/// their idempotency keys) from where they stopped.
public enum RunRetry {
    /// The most task keys a `run.retried` event lists (its `reopened` counts them all).
    public static let listedTasks = 100

    /// Why a run cannot be retried; changes nothing.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String

        init(_ description: String) { self.description = description }
    }

    /// The tasks a retry reopens, as they are to be stored.
    public struct Plan: Sendable {
        /// The task records changed by the retry.
        public var tasks: [TaskRecord]
        /// The keys of the tasks and fan-out instances that will run again, sorted.
        public var reopened: [String]
    }

    /// What a retry did: the run as reopened and what will run again.
    public struct Outcome: Sendable {
        public var run: RunRecord
        public var reopened: [String]
    }

    /// The retry of `snapshot`'s run of `definition` at `now`; a ``Refusal`` naming the run and
    /// what would be valid when the run is not failed or cancelled, or has been retried
    /// ``RunRecord/maximumRetries`` times.
    public static func plan(_ snapshot: RunSnapshot, definition: WorkflowDefinition, now: Date) throws -> Plan {
        let run = snapshot.run
        if let refusal = refusal(run) { throw refusal }
        // A redaction erased the inputs (declared ones always have a value) or a kept output.
        if (!definition.inputs.isEmpty && run.inputs.isEmpty)
            || snapshot.tasks.contains(where: { $0.status == .succeeded && $0.output == nil })
        {
            throw Refusal(
                "run \(run.id) was redacted: its inputs or outputs are erased, and a retry would run without them; start a new run"
            )
        }
        // An approver's rejection stands: retrying would ask again and let another approver overrule it.
        if let rejected = snapshot.tasks.first(where: {
            $0.status == .failed && isRejection($0.error)
        }) {
            throw Refusal(
                "run \(run.id): task \(rejected.key) was rejected by an approver (\(rejected.error ?? "")); a retry would ask again, so it is refused: start a new run"
            )
        }
        let records = Dictionary(snapshot.tasks.map { ($0.key, $0) }) { _, last in last }
        let instancesByTask = Dictionary(grouping: snapshot.tasks.filter { $0.index != nil }, by: \.taskID)
        let reopened = reopenedTaskIDs(definition, records)
        var changed: [TaskRecord] = []
        var keys: [String] = []
        for task in definition.tasks where reopened.contains(task.id) {
            guard var parent = records[task.id] else { continue }
            // The instances of its current list: those an earlier expansion set aside stay aside.
            let instances = (instancesByTask[task.id] ?? []).filter { ($0.index ?? .max) < (parent.instanceCount ?? 0) }
            let failedInstances = instances.filter { $0.status != .succeeded }
            let dependenciesKept = task.dependsOn.allSatisfy { !reopened.contains($0) }
            if parent.instanceCount != nil, dependenciesKept, !failedInstances.isEmpty {
                // Only the instances that did not succeed run again; the parent waits for them.
                parent.reopen(as: .running, at: now)
                changed.append(parent)
                for var instance in failedInstances {
                    instance.reopen(as: .ready, at: now)
                    changed.append(instance)
                    keys.append(instance.key)
                }
                continue
            }
            parent.reopen(as: .pending, at: now)
            parent.instanceCount = nil
            changed.append(parent)
            keys.append(parent.key)
            for var instance in instancesByTask[task.id] ?? [] {
                instance.status = .skipped
                instance.reason = setAside
                instance.output = nil
                instance.error = nil
                // Its attempts so far stop counting (its interruptions too) when it is expanded again.
                instance.attemptsBeforeRetry = instance.attempts
                instance.updatedAt = now
                changed.append(instance)
            }
        }
        return Plan(tasks: changed, reopened: keys.sorted())
    }

    /// Why `run` cannot be retried, whatever its tasks: it has not ended, it succeeded, or it was
    /// retried ``RunRecord/maximumRetries`` times; nil when it may be.
    public static func refusal(_ run: RunRecord) -> Refusal? {
        guard !run.isRetryable else { return nil }
        switch run.status {
        case .failed, .cancelled:
            return Refusal("run \(run.id) was retried \(run.retryCount) times, the most allowed; start a new run")
        case .succeeded:
            return Refusal("run \(run.id) succeeded: only a failed or cancelled run can be retried; start a new run")
        case .pending, .running:
            return Refusal("run \(run.id) has not ended: only a failed or cancelled run can be retried")
        }
    }

    /// Whether a task's error is an approval task's rejection (`ApprovalKind`'s own words:
    /// `rejected: REASON (approval apr_…)`).
    static func isRejection(_ error: String?) -> Bool {
        guard let error, error.hasPrefix("rejected: "), error.hasSuffix(")") else { return false }
        return error.contains(" (approval apr_")
    }

    /// Why an old fan-out instance stands skipped after its task is expanded again.
    static let setAside = "set aside by a retry of the run: its task is expanded again"

    /// The ids of the tasks that run again: those that did not succeed or skip, and every task
    /// downstream of one of them.
    private static func reopenedTaskIDs(_ definition: WorkflowDefinition, _ records: [String: TaskRecord]) -> Set<
        String
    > {
        var dependents: [String: [String]] = [:]
        for task in definition.tasks {
            for dependency in task.dependsOn { dependents[dependency, default: []].append(task.id) }
        }
        var reopened: Set<String> = []
        var pending = definition.tasks.map(\.id).filter {
            let status = records[$0]?.status
            return status != .succeeded && status != .skipped
        }
        while let id = pending.popLast() {
            guard reopened.insert(id).inserted else { continue }
            pending += dependents[id] ?? []
        }
        return reopened
    }
}

extension TaskRecord {
    /// Makes the task `status` again with nothing of its last ending; its earlier attempts stop
    /// counting against its retries.
    fileprivate mutating func reopen(as status: TaskStatus, at now: Date) {
        self.status = status
        output = nil
        error = nil
        reason = nil
        agentID = nil
        nextAttemptAt = nil
        attemptsBeforeRetry = attempts
        updatedAt = now
    }
}
