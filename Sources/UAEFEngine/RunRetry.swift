import Foundation
import UAEFCore
import UAEFStore

/// Retrying a run that failed or was cancelled from where it stopped, as AWS Step Functions'
/// redrive and Airflow's clearing of failed tasks do: what succeeded keeps its output and does
/// not run again; what failed or was cancelled runs again, and so does every task downstream of
/// it, whatever it did before (its inputs may change).
///
/// A retry may also run a run again **from tasks one names**, as Airflow's clearing of a task and
/// its downstream does: those tasks run again whatever they did, and so does everything
/// downstream of them. Such a rerun may also reopen a run that succeeded, unless it is a child its
/// parent waited for (the parent has taken its outputs).
///
/// A fanned-out task whose own dependencies are kept, and that is not named, runs only its
/// instances that did not succeed, and those named (`lines[2]`). One that depends on a reopened task, or is named, is expanded
/// again from its `for_each`: its old instances are set aside as skipped, and those the new list
/// reaches again are replaced. A reopened task gets its `retry.max_attempts` afresh; its attempts
/// keep their numbers (and so their idempotency keys) from where they stopped.
public enum RunRetry {
    /// The most task keys a `run.retried` event lists (its `reopened` counts them all).
    public static let listedTasks = 100

    /// The most tasks and fan-out instances a rerun may name.
    public static let maximumNamedTasks = 100

    /// Why a run cannot be retried; changes nothing.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// The request named what the run does not have (a task to run again from), rather than
        /// finding the run in a state that cannot be retried.
        public var isInvalidRequest: Bool

        init(_ description: String, isInvalidRequest: Bool = false) {
            self.description = description
            self.isInvalidRequest = isInvalidRequest
        }
    }

    /// The tasks a retry reopens, as they are to be stored.
    public struct Plan: Sendable {
        /// The task records changed by the retry.
        public var tasks: [TaskRecord]
        /// The keys of the tasks and fan-out instances that will run again, sorted.
        public var reopened: [String]
        /// The tasks and fan-out instances named to run again from, sorted.
        public var from: [String]
        /// The keys of the named tasks, their fan-out instances and the instances named: each starts afresh, without
        /// what its attempts recorded to resume from (``TaskCheckpoint``).
        public var afresh: [String]
    }

    /// What a retry did: the run as reopened and what will run again.
    public struct Outcome: Sendable {
        public var run: RunRecord
        public var reopened: [String]
    }

    /// The retry of `snapshot`'s run of `definition` at `now`, also running again the tasks named
    /// in `from` and everything downstream of them; a ``Refusal`` naming the run and what would be
    /// valid when it may not be retried so (``refusal(_:from:)``), was redacted, had an approval
    /// rejected, or has no task by one of the names.
    public static func plan(
        _ snapshot: RunSnapshot, definition: WorkflowDefinition, from named: [String] = [], now: Date
    ) throws -> Plan {
        let run = snapshot.run
        if let refusal = refusal(run, from: named) { throw refusal }
        let records = Dictionary(snapshot.tasks.map { ($0.key, $0) }) { _, last in last }
        let from = try Named(named, of: run, in: definition, records: records)
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
        let instancesByTask = Dictionary(grouping: snapshot.tasks.filter { $0.index != nil }, by: \.taskID)
        let reopened = reopenedTaskIDs(definition, records, from: from.tasks.union(from.instances.keys))
        var changed: [TaskRecord] = []
        var keys: [String] = []
        for task in definition.tasks where reopened.contains(task.id) {
            guard var parent = records[task.id] else { continue }
            // The instances of its current list: those an earlier expansion set aside stay aside.
            let instances = (instancesByTask[task.id] ?? []).filter { ($0.index ?? .max) < (parent.instanceCount ?? 0) }
            let named = from.instances[task.id] ?? []
            let rerun = instances.filter { $0.status != .succeeded || named.contains($0.key) }
            let listKept = !from.tasks.contains(task.id) && task.dependsOn.allSatisfy { !reopened.contains($0) }
            if parent.instanceCount != nil, listKept, !rerun.isEmpty {
                // Only the instances named or that did not succeed run again; the parent waits for them.
                parent.reopen(as: .running, at: now)
                changed.append(parent)
                for var instance in rerun {
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
        // A named task's instances start afresh with it; an instance named besides needs no second write.
        let afresh =
            from.tasks.sorted().flatMap { id in [id] + (instancesByTask[id] ?? []).map(\.key) }
            + from.instances.filter { !from.tasks.contains($0.key) }.values.flatMap { $0 }.sorted()
        return Plan(tasks: changed, reopened: keys.sorted(), from: from.names, afresh: afresh)
    }

    /// Why `run` cannot be retried (with no tasks named in `from`) or run again from the tasks
    /// named, whatever its tasks: it has not ended, it succeeded and nothing is named, it is a
    /// succeeded child its parent waited for, or it was retried ``RunRecord/maximumRetries`` times;
    /// nil when it may be.
    public static func refusal(_ run: RunRecord, from named: [String] = []) -> Refusal? {
        if named.isEmpty ? run.isRetryable : run.isRerunnable { return nil }
        switch run.status {
        case .pending, .running:
            return Refusal("run \(run.id) has not ended: only a run that has ended can be retried")
        case .succeeded where run.parent?.detached == false:
            let parent = run.parent.map { "run \($0.run)'s task \($0.task)" } ?? "its parent"
            return Refusal(
                "run \(run.id) succeeded as a child that \(parent) waited for, which has taken its outputs: run the parent again from that task instead (it starts a new child)"
            )
        case .succeeded where named.isEmpty:
            return Refusal(
                "run \(run.id) succeeded: it can only be run again from tasks you name (uaef runs retry --from TASK, \"from\" in the API)"
            )
        case .succeeded, .failed, .cancelled:
            return Refusal("run \(run.id) was retried \(run.retryCount) times, the most allowed; start a new run")
        }
    }

    /// What a rerun names, checked against the run: tasks of its workflow, and instances of the
    /// current list of a fanned-out task (`lines[2]`), at most ``maximumNamedTasks`` of them.
    struct Named {
        /// The tasks named: each runs again whole, a fan-out expanded afresh.
        var tasks: Set<String> = []
        /// The instances named, by their task: each runs again, its siblings kept.
        var instances: [String: Set<String>] = [:]
        /// Every name, sorted, as `run.retried` lists them.
        var names: [String] = []

        init(
            _ named: [String], of run: RunRecord, in definition: WorkflowDefinition, records: [String: TaskRecord]
        ) throws {
            guard named.count <= maximumNamedTasks else {
                throw Refusal(
                    "run \(run.id): \(named.count) names of tasks to run again from; give at most \(maximumNamedTasks)",
                    isInvalidRequest: true)
            }
            let ids = Set(definition.tasks.map(\.id))
            for name in named {
                if ids.contains(name) {
                    tasks.insert(name)
                    continue
                }
                let shown = String(name.prefix(100))
                if let bracket = name.firstIndex(of: "["), ids.contains(String(name[..<bracket])) {
                    let task = String(name[..<bracket])
                    let count = records[task]?.instanceCount
                    guard let count, let index = records[name]?.index, index < count else {
                        throw Refusal(
                            count.map {
                                "run \(run.id) has no instance \(shown) in the current list of \(task) (\(task)[0] to \(task)[\($0 - 1)]); name one of them, or the task"
                            }
                                ?? "run \(run.id): \(task) has no instances in the run's last go, so none is \(shown); name the task",
                            isInvalidRequest: true)
                    }
                    instances[task, default: []].insert(name)
                    continue
                }
                let known = definition.tasks.prefix(20).map(\.id).joined(separator: ", ")
                throw Refusal(
                    "run \(run.id) has no task \(shown) to run again from; its workflow's tasks are \(known)\(ids.count > 20 ? ", …" : "")",
                    isInvalidRequest: true)
            }
            names = Array(Set(named)).sorted()
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

    /// The ids of the tasks that run again: those that did not succeed or skip, those named in
    /// `from`, and every task downstream of one of them.
    private static func reopenedTaskIDs(
        _ definition: WorkflowDefinition, _ records: [String: TaskRecord], from: Set<String>
    ) -> Set<String> {
        var dependents: [String: [String]] = [:]
        for task in definition.tasks {
            for dependency in task.dependsOn { dependents[dependency, default: []].append(task.id) }
        }
        var reopened: Set<String> = []
        var pending = definition.tasks.map(\.id).filter {
            let status = records[$0]?.status
            return (status != .succeeded && status != .skipped) || from.contains($0)
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
