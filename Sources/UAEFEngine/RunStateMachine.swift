import Foundation
import UAEFCore
import UAEFStore

/// The scheduler of one run as a pure state machine: inputs in, actions out, no I/O.
///
/// Each ``handle(_:in:)`` call updates task and run state and records the state rows and events
/// to write; the runner commits ``takeChanges()`` in one transaction *before* it performs the
/// returned actions, so the store always knows at least as much as anyone acting on it.
public struct RunStateMachine: Sendable {
    public let definition: WorkflowDefinition
    public private(set) var run: RunRecord
    /// Every task and fan-out instance by key.
    public private(set) var tasks: [String: TaskRecord]
    private var liveAttempts: [String: AttemptRecord] = [:]
    /// Per task key, attempts cut off by a stopped process: they do not count against the task's
    /// `retry.max_attempts` (the platform's crash must not spend the user's retries), but at most
    /// ``RetryPolicy/maximumInterruptions`` are retried.
    private var interruptions: [String: Int] = [:]
    /// Keys of running attempts that hold one of the environment's execution slots.
    private var heldSlots: Set<String> = []
    /// True when ready tasks wait for an execution slot.
    public private(set) var isWaitingForSlot = false
    private let tasksByID: [String: TaskDefinition]
    private let dependents: [String: [String]]
    /// Task ids whose outputs each task's expressions read.
    private let readsTasks: [String: Set<String>]
    private var readyQueue: [String] = []
    private var readyHead = 0
    private var waiting: [String] = []
    private var runningCount = 0
    private var openCount = 0
    private var openInstances: [String: Int] = [:]
    /// Per task id, how many of its dependencies have not finished yet.
    private var unfinishedDependencies: [String: Int] = [:]
    private var changes = ChangeSet()
    private var dirtyTasks: Set<String> = []
    private var runDirty = false

    /// A machine for `run`, with the state already stored (empty for a new run).
    public init(definition: WorkflowDefinition, run: RunRecord, tasks stored: [TaskRecord], attempts: [AttemptRecord]) {
        self.definition = definition
        self.run = run
        tasksByID = Dictionary(definition.tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var dependents: [String: [String]] = [:]
        var reads: [String: Set<String>] = [:]
        for task in definition.tasks {
            for dependency in task.dependsOn { dependents[dependency, default: []].append(task.id) }
            let expressions =
                task.parameters.expressions + (task.condition?.expressions ?? []) + (task.forEach?.expressions ?? [])
            reads[task.id] = Set(
                expressions.flatMap(\.referencedPaths).compactMap { $0.first == "tasks" && $0.count > 1 ? $0[1] : nil })
        }
        self.dependents = dependents
        readsTasks = reads
        var records = Dictionary(stored.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        for task in definition.tasks where records[task.id] == nil {
            records[task.id] = TaskRecord(
                tenant: run.tenant, runID: run.id, key: task.id, taskID: task.id, status: .pending,
                updatedAt: run.createdAt)
            dirtyTasks.insert(task.id)
        }
        tasks = records
        for attempt in attempts {
            if attempt.status == .running { liveAttempts[attempt.key] = attempt }
            // Interruptions before a retry of the run reopened the task no longer count.
            if attempt.status == .interrupted, attempt.number > records[attempt.key]?.attemptsBeforeRetry ?? 0 {
                interruptions[attempt.key, default: 0] += 1
            }
        }
        for task in definition.tasks {
            unfinishedDependencies[task.id] = task.dependsOn.filter { !(records[$0]?.status.isTerminal ?? false) }.count
        }
        for record in records.values where !record.status.isTerminal {
            openCount += 1
            if record.index != nil { openInstances[record.taskID, default: 0] += 1 }
            if record.status == .running, record.instanceCount == nil { runningCount += 1 }
        }
    }

    /// True while some task waits for an agent to be activated or freed.
    public var hasWaitingTasks: Bool { !waiting.isEmpty }

    /// Whether the run has ended.
    public var isFinished: Bool { run.status.isTerminal }

    /// True while attempt `number` of task `key` runs and is the task's latest: its end would be
    /// accepted rather than ignored.
    public func isCurrent(key: String, attempt number: Int) -> Bool {
        guard let record = tasks[key] else { return false }
        return record.status == .running && record.attempts == number
    }

    /// The writes recorded since the last call, for one transaction.
    public mutating func takeChanges() -> ChangeSet {
        var result = changes
        changes = ChangeSet()
        // An attempt that started and ended within one batch is written once, in its final state.
        var latest: [String: Int] = [:]
        for (offset, attempt) in result.attempts.enumerated() { latest["\(attempt.key)#\(attempt.number)"] = offset }
        if latest.count < result.attempts.count {
            result.attempts = result.attempts.enumerated()
                .filter { latest["\($0.element.key)#\($0.element.number)"] == $0.offset }.map(\.element)
        }
        if runDirty { result.runs.append(run) }
        runDirty = false
        result.tasks = dirtyTasks.sorted().compactMap { tasks[$0] }
        dirtyTasks = []
        return result
    }

    // MARK: Inputs

    /// Applies one input; returns what the runner must do once the changes are committed.
    public mutating func handle(_ input: EngineInput, in environment: inout EngineEnvironment) -> [EngineAction] {
        guard !run.status.isTerminal else { return [] }
        var actions: [EngineAction] = []
        switch input {
        case .start: resume(&actions, &environment)
        case .attemptFinished(let key, let attempt, let result):
            finishAttempt(key: key, number: attempt, result: result, &actions, &environment)
        case .retryDue(let key):
            guard tasks[key]?.status == .retrying else { return [] }
            update(key, &environment) {
                $0.status = .ready
                $0.nextAttemptAt = nil
            }
            enqueue(key)
        case .capacityFreed:
            break
        case .agentsChanged:
            let stillWaiting = waiting
            waiting = []
            for key in stillWaiting where tasks[key]?.status == .waiting { enqueue(key) }
        case .agentFreed:
            wakeWaiting(&actions, &environment)
        case .cancel(let actor, let reason):
            stop(status: .cancelled, error: reason, actor: actor, &actions, &environment)
            return actions
        case .runTimedOut:
            let limit = definition.timeout.map(DurationText.format) ?? "its timeout"
            stop(
                status: .failed, error: "run timed out after \(limit)", actor: environment.actor, &actions, &environment
            )
            return actions
        }
        dispatch(&actions, &environment)
        finishRunIfDone(&actions, &environment)
        return actions
    }

    private mutating func resume(_ actions: inout [EngineAction], _ environment: inout EngineEnvironment) {
        if run.status == .pending {
            run.status = .running
            touchRun(&environment)
            emit(
                "run.started", subject: run.id.rawValue,
                data: ["workflow": .string(definition.name)], &environment)
        }
        // Continue whatever a previous process left unfinished.
        for key in tasks.keys.sorted() {
            guard let record = tasks[key] else { continue }
            switch record.status {
            case .running where record.instanceCount == nil:
                runningCount -= 1
                let message = "attempt \(record.attempts) was interrupted: the process executing it stopped"
                if let attempt = liveAttempts.removeValue(forKey: key) {
                    var ended = attempt
                    ended.status = .interrupted
                    ended.endedAt = environment.now
                    ended.error = message
                    changes.attempts.append(ended)
                }
                interruptions[key, default: 0] += 1
                failAttempt(
                    key: key, message: message, retryable: true, timedOut: false, interrupted: true, &actions,
                    &environment)
            case .ready, .waiting: enqueue(key)
            case .retrying:
                actions.append(.scheduleRetry(key: key, at: record.nextAttemptAt ?? environment.now))
            case .pending where record.index == nil && unfinishedDependencies[record.taskID] == 0:
                evaluate(record.taskID, &actions, &environment)
            default: break
            }
        }
    }

    // MARK: Readiness

    /// Decides a task whose dependencies have all finished: skip it, fan it out, or make it ready.
    private mutating func evaluate(
        _ id: String, _ actions: inout [EngineAction], _ environment: inout EngineEnvironment
    ) {
        guard let task = tasksByID[id], tasks[id]?.status == .pending else { return }
        if let reason = triggerBlocks(task) {
            return skip(id, reason: reason, &actions, &environment)
        }
        let context = expressionContext(for: task)
        if let condition = task.condition {
            do {
                guard try condition.render(in: context).isTruthy else {
                    return skip(id, reason: "when condition is false", &actions, &environment)
                }
            } catch {
                return fail(id, error: "when: \(error)", &actions, &environment)
            }
        }
        guard let forEach = task.forEach else {
            update(id, &environment) { $0.status = .ready }
            emit("task.ready", subject: subject(id), data: [:], &environment)
            return enqueue(id)
        }
        let items: [JSONValue]
        do {
            let value = try forEach.render(in: context)
            guard let list = value.arrayValue else {
                return fail(id, error: "for_each must give a list, not a \(value.typeName)", &actions, &environment)
            }
            items = list
        } catch {
            return fail(id, error: "for_each: \(error)", &actions, &environment)
        }
        guard !items.isEmpty else {
            return succeed(id, output: .array([]), &actions, &environment)
        }
        update(id, &environment) {
            $0.status = .running
            $0.instanceCount = items.count
        }
        emit("task.expanded", subject: subject(id), data: ["instances": .number(Number(items.count))], &environment)
        openInstances[id] = items.count
        for (index, item) in items.enumerated() {
            let key = "\(id)[\(index)]"
            // An instance a retry set aside keeps counting its attempts, so their numbers stay unique.
            let earlier = tasks[key]?.attempts ?? 0
            tasks[key] = TaskRecord(
                tenant: run.tenant, runID: run.id, key: key, taskID: id, index: index, status: .ready,
                attempts: earlier, item: item, attemptsBeforeRetry: earlier, updatedAt: environment.now)
            dirtyTasks.insert(key)
            openCount += 1
            emit("task.ready", subject: subject(key), data: [:], &environment)
            enqueue(key)
        }
    }

    /// Why the trigger rule keeps the task from running, or nil when it may run.
    private func triggerBlocks(_ task: TaskDefinition) -> String? {
        let statuses = task.dependsOn.map { (id: $0, status: tasks[$0]?.status ?? .succeeded) }
        let failed = statuses.filter { $0.status == .failed || $0.status == .cancelled }.map(\.id)
        let skipped = statuses.filter { $0.status == .skipped }.map(\.id)
        let succeeded = statuses.filter { $0.status == .succeeded }.map(\.id)
        switch task.trigger {
        case .noneFailed:
            return failed.isEmpty ? nil : "trigger none_failed: dependency \(failed.joined(separator: ", ")) failed"
        case .allSuccess:
            if !failed.isEmpty { return "trigger all_success: dependency \(failed.joined(separator: ", ")) failed" }
            return skipped.isEmpty
                ? nil : "trigger all_success: dependency \(skipped.joined(separator: ", ")) was skipped"
        case .allDone:
            return nil
        case .oneFailed:
            return failed.isEmpty ? "trigger one_failed: no dependency failed" : nil
        case .oneSuccess:
            return succeeded.isEmpty && !statuses.isEmpty ? "trigger one_success: no dependency succeeded" : nil
        }
    }

    /// The names expressions of `task` may read: inputs, run, and the outputs of the tasks it reads.
    private func expressionContext(for task: TaskDefinition) -> [String: JSONValue] {
        var outputs: [String: JSONValue] = [:]
        for id in readsTasks[task.id] ?? [] {
            guard let record = tasks[id] else { continue }
            outputs[id] = ["output": record.output ?? .null, "status": .string(record.status.rawValue)]
        }
        return [
            "inputs": .object(run.inputs), "tasks": .object(outputs),
            "run": [
                "id": .string(run.id.rawValue), "name": .string(definition.name),
                "retry_count": .number(Number(run.retryCount)),
            ],
        ]
    }

    private mutating func enqueue(_ key: String) {
        readyQueue.append(key)
    }

    /// Tasks waiting for an agent try again, oldest first, until one finds none free: it and
    /// the tasks behind it keep their places, so a wake-up costs little however many wait.
    private mutating func wakeWaiting(_ actions: inout [EngineAction], _ environment: inout EngineEnvironment) {
        var woken = 0
        while woken < waiting.count {
            let key = waiting[woken]
            woken += 1
            guard tasks[key]?.status == .waiting else { continue }
            let waitingBefore = waiting.count
            enqueue(key)
            dispatch(&actions, &environment)
            if waiting.count > waitingBefore {
                // No agent free: put back at its place rather than at the end.
                waiting.removeLast()
                woken -= 1
                break
            }
            // No execution slot: it waits first in the ready queue instead.
            if isWaitingForSlot { break }
        }
        waiting.removeFirst(woken)
    }

    // MARK: Attempts

    /// Starts ready tasks while the run's concurrency limit allows.
    private mutating func dispatch(_ actions: inout [EngineAction], _ environment: inout EngineEnvironment) {
        let limit = definition.concurrency ?? Int.max
        isWaitingForSlot = false
        while readyHead < readyQueue.count, runningCount < limit {
            let key = readyQueue[readyHead]
            guard let status = tasks[key]?.status, status == .ready || status == .waiting else {
                readyHead += 1
                continue
            }
            guard beginAttempt(key, &actions, &environment) else {
                // No execution slot: the task stays ready, first in line, until one is freed.
                isWaitingForSlot = true
                break
            }
            readyHead += 1
        }
        if readyHead > 1024, readyHead * 2 > readyQueue.count {
            readyQueue.removeFirst(readyHead)
            readyHead = 0
        }
    }

    /// Starts an attempt of `key` (or finds it must wait for an agent, or fails it); false when
    /// no execution slot is free, with nothing changed.
    private mutating func beginAttempt(
        _ key: String, _ actions: inout [EngineAction], _ environment: inout EngineEnvironment
    ) -> Bool {
        guard let record = tasks[key], let task = tasksByID[record.taskID] else { return true }
        var agent: AgentRecord?
        var capability: String?
        let kind: String
        switch task.executor {
        case .agentKind(let name):
            kind = name
            guard takeSlot(key, kind: kind, &environment) else { return false }
        case .capability(let asked):
            capability = asked
            let capability = asked
            guard let reserved = environment.agents.reserve(capability) else {
                let reason =
                    environment.agents.isOffered(capability)
                    ? "waiting for an active agent with capability \(capability) to be free"
                    : "waiting for an agent with capability \(capability) to be registered and activated"
                if record.status != .waiting {
                    update(key, &environment) {
                        $0.status = .waiting
                        $0.reason = reason
                    }
                    emit(
                        "task.waiting", subject: subject(key),
                        data: ["capability": .string(capability), "reason": .string(reason)], &environment)
                }
                waiting.append(key)
                return true
            }
            guard takeSlot(key, kind: reserved.kind, &environment) else {
                environment.agents.release(reserved.id)
                return false
            }
            agent = reserved
            kind = reserved.kind
        }
        var context = expressionContext(for: task)
        if let index = record.index {
            context["item"] = record.item ?? .null
            context["index"] = .number(Number(index))
        }
        let with: [String: JSONValue]
        do {
            with = try task.parameters.render(in: context).objectValue ?? [:]
            if let violation = ValueLimits.check(.object(with)) { throw violation }
        } catch {
            if let agent { environment.agents.release(agent.id) }
            fail(key, error: "with: \(error)", &actions, &environment)
            return true
        }
        let number = record.attempts + 1
        let idempotencyKey = "\(run.id.rawValue)/\(key)/\(number)"
        update(key, &environment) {
            $0.status = .running
            $0.attempts = number
            $0.agentID = agent?.id
            $0.reason = nil
            $0.error = nil
        }
        runningCount += 1
        let attempt = AttemptRecord(
            tenant: run.tenant, runID: run.id, key: key, number: number, idempotencyKey: idempotencyKey,
            agentID: agent?.id, status: .running, startedAt: environment.now)
        liveAttempts[key] = attempt
        changes.attempts.append(attempt)
        if let agent {
            emit(
                "task.assigned", subject: subject(key),
                data: ["agent": .string(agent.id.rawValue), "attempt": .number(Number(number))], &environment)
        }
        emit(
            "task.started", subject: subject(key),
            data: [
                "attempt": .number(Number(number)), "idempotency_key": .string(idempotencyKey), "kind": .string(kind),
            ], payloads: ["input": .object(with)], &environment)
        let parameters = (agent?.configuration ?? [:]).merging(with) { _, task in task }
        actions.append(
            .startAttempt(
                AttemptRequest(
                    runID: run.id, tenant: run.tenant, workflow: definition.name, key: key, taskID: task.id,
                    attempt: number, idempotencyKey: idempotencyKey, kind: kind, agent: agent, capability: capability,
                    // Attempts are numbered from the task's stored count, which every started
                    // attempt (committed before it executes) raised, interrupted ones included.
                    parameters: parameters, timeout: task.timeout, isFirstOfTask: number == 1,
                    attemptsBeforeRetry: record.attemptsBeforeRetry, interruptions: interruptions[key, default: 0])))
        return true
    }

    /// Takes an execution slot for an attempt of `key` by `kind`, unless the kind takes none;
    /// false when none is free.
    private mutating func takeSlot(_ key: String, kind: String, _ environment: inout EngineEnvironment) -> Bool {
        guard !environment.slotFreeKinds.contains(kind) else { return true }
        guard environment.executionSlots > 0 else { return false }
        environment.executionSlots -= 1
        heldSlots.insert(key)
        return true
    }

    private mutating func finishAttempt(
        key: String, number: Int, result: AttemptResult, _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        guard isCurrent(key: key, attempt: number), let record = tasks[key] else { return }
        var result = result
        if case .succeeded(let output) = result, let violation = ValueLimits.check(output) {
            // Whatever the agent (remote ones included), nothing past the limits is stored.
            result = .failed(message: "the agent's output was refused: \(violation)", retryable: false)
        }
        runningCount -= 1
        if let agent = record.agentID { environment.agents.release(agent) }
        var measured: [String: JSONValue] = [:]
        if var attempt = liveAttempts.removeValue(forKey: key) {
            attempt.endedAt = environment.now
            measured = attemptFacts(attempt, task: record.taskID, ended: environment.now)
            switch result {
            case .succeeded: attempt.status = .succeeded
            case .failed(let message, _):
                attempt.status = .failed
                attempt.error = message
            case .timedOut(let limit):
                attempt.status = .timedOut
                attempt.error = "timed out after \(DurationText.format(limit))"
            }
            changes.attempts.append(attempt)
        }
        switch result {
        case .succeeded(let output):
            succeed(key, output: output, attempt: measured, &actions, &environment)
        case .failed(let message, let retryable):
            failAttempt(
                key: key, message: message, retryable: retryable, timedOut: false, attempt: measured, &actions,
                &environment)
        case .timedOut(let limit):
            failAttempt(
                key: key, message: "timed out after \(DurationText.format(limit))", retryable: true, timedOut: true,
                attempt: measured, &actions, &environment)
        }
    }

    /// What the event that ends an attempt says about it, for analytics read from the log alone:
    /// the workflow, the task, the agent and how long the attempt took.
    private func attemptFacts(_ attempt: AttemptRecord, task: String, ended: Date) -> [String: JSONValue] {
        var facts: [String: JSONValue] = [
            "workflow": .string(definition.name), "task": .string(task),
            "duration_ms": .number(Number(Self.milliseconds(from: attempt.startedAt, to: ended))),
        ]
        if let agent = attempt.agentID { facts["agent"] = .string(agent.rawValue) }
        return facts
    }

    /// Whole milliseconds from `start` to `end`, 0 when the clock went back.
    static func milliseconds(from start: Date, to end: Date) -> Int {
        Int(max(0, (end.timeIntervalSince(start) * 1000).rounded()))
    }

    /// An attempt failed: schedule the next one, or fail the task when none remain. Attempts
    /// `interrupted` by a stopped process do not count against `retry.max_attempts`; the next
    /// one starts at once, up to ``RetryPolicy/maximumInterruptions`` of them.
    private mutating func failAttempt(
        key: String, message: String, retryable: Bool, timedOut: Bool, interrupted: Bool = false,
        attempt measured: [String: JSONValue] = [:], _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        guard let record = tasks[key], let task = tasksByID[record.taskID] else { return }
        if timedOut {
            emit(
                "task.timed_out", subject: subject(key),
                data: ["attempt": .number(Number(record.attempts)), "error": .string(message)], &environment)
        }
        let interrupted = interrupted ? interruptions[key, default: 0] : nil
        if let interrupted, interrupted > RetryPolicy.maximumInterruptions {
            return fail(
                key,
                error:
                    "\(message); interrupted \(interrupted) times, more than the \(RetryPolicy.maximumInterruptions) retried",
                attempt: measured, &actions, &environment)
        }
        let counted = record.attempts - record.attemptsBeforeRetry - interruptions[key, default: 0]
        guard retryable, interrupted != nil || counted < task.retry.maxAttempts else {
            return fail(key, error: message, attempt: measured, &actions, &environment)
        }
        let delay =
            interrupted != nil ? .zero : task.retry.delay(afterAttempt: counted, unit: environment.random.unit())
        let due = environment.now.addingTimeInterval(delay.timeInterval)
        update(key, &environment) {
            $0.status = .retrying
            $0.error = message
            $0.nextAttemptAt = due
        }
        emit(
            "task.retry_scheduled", subject: subject(key),
            data: measured.merging([
                "attempt": .number(Number(record.attempts)), "error": .string(message),
                "next_attempt_at": .string(Timestamp.format(due)),
            ]) { _, own in own }, &environment)
        actions.append(.scheduleRetry(key: key, at: due))
    }

    // MARK: Endings

    /// Ends task `key` with `output`; `measured` is what ``attemptFacts(_:task:ended:)`` says of
    /// the attempt that produced it, when one did.
    private mutating func succeed(
        _ key: String, output: JSONValue, attempt measured: [String: JSONValue] = [:], _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        update(key, &environment) {
            $0.status = .succeeded
            $0.output = output
            $0.error = nil
        }
        emit(
            "task.succeeded", subject: subject(key),
            data: measured.merging(["attempt": .number(Number(tasks[key]?.attempts ?? 0))]) { _, own in own },
            payloads: ["output": output], &environment)
        settled(key, &actions, &environment)
    }

    private mutating func fail(
        _ key: String, error: String, attempt measured: [String: JSONValue] = [:], _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        update(key, &environment) {
            $0.status = .failed
            $0.error = error
        }
        emit(
            "task.failed", subject: subject(key),
            data: measured.merging([
                "attempt": .number(Number(tasks[key]?.attempts ?? 0)), "error": .string(error),
            ]) { _, own in own }, &environment)
        settled(key, &actions, &environment)
    }

    private mutating func skip(
        _ key: String, reason: String, _ actions: inout [EngineAction], _ environment: inout EngineEnvironment
    ) {
        update(key, &environment) {
            $0.status = .skipped
            $0.reason = reason
        }
        emit("task.skipped", subject: subject(key), data: ["reason": .string(reason)], &environment)
        settled(key, &actions, &environment)
    }

    /// A task or instance reached a terminal state: finish its fan-out parent, release dependents.
    private mutating func settled(
        _ key: String, _ actions: inout [EngineAction], _ environment: inout EngineEnvironment
    ) {
        openCount -= 1
        guard let record = tasks[key] else { return }
        if record.index != nil {
            let parent = record.taskID
            openInstances[parent, default: 1] -= 1
            guard openInstances[parent] == 0, tasks[parent]?.status == .running else { return }
            openInstances[parent] = nil
            let count = tasks[parent]?.instanceCount ?? 0
            let instances = (0..<count).compactMap { tasks["\(parent)[\($0)]"] }
            let failures = instances.filter { $0.status != .succeeded }.count
            if failures == 0 {
                succeed(parent, output: .array(instances.map { $0.output ?? .null }), &actions, &environment)
            } else {
                fail(parent, error: "\(failures) of \(count) instances did not succeed", &actions, &environment)
            }
            return
        }
        for dependent in dependents[key] ?? [] {
            unfinishedDependencies[dependent, default: 1] -= 1
            if unfinishedDependencies[dependent] == 0 { evaluate(dependent, &actions, &environment) }
        }
    }

    private mutating func finishRunIfDone(_ actions: inout [EngineAction], _ environment: inout EngineEnvironment) {
        guard openCount == 0, !run.status.isTerminal else { return }
        let failed = definition.tasks.map(\.id).filter { tasks[$0]?.status == .failed }
        if failed.isEmpty {
            endRun(.succeeded, error: nil, actor: environment.actor, &actions, &environment)
        } else {
            endRun(
                .failed, error: "task \(failed.joined(separator: ", ")) failed", actor: environment.actor, &actions,
                &environment)
        }
    }

    private mutating func stop(
        status: RunStatus, error: String, actor: String, _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        for key in tasks.keys.sorted() {
            guard let record = tasks[key], !record.status.isTerminal else { continue }
            if record.status == .running {
                actions.append(.cancelAttempt(key: key))
                if let agent = record.agentID { environment.agents.release(agent) }
                if var attempt = liveAttempts.removeValue(forKey: key) {
                    attempt.status = .cancelled
                    attempt.endedAt = environment.now
                    attempt.error = error
                    changes.attempts.append(attempt)
                }
                runningCount -= 1
            }
            update(key, &environment) {
                $0.status = .cancelled
                $0.reason = error
            }
            emit("task.cancelled", subject: subject(key), data: ["reason": .string(error)], actor: actor, &environment)
            openCount -= 1
        }
        endRun(status, error: error, actor: actor, &actions, &environment)
    }

    private mutating func endRun(
        _ status: RunStatus, error: String?, actor: String, _ actions: inout [EngineAction],
        _ environment: inout EngineEnvironment
    ) {
        run.status = status
        run.error = error
        run.endedAt = environment.now
        touchRun(&environment)
        var data: [String: JSONValue] = [
            "workflow": .string(definition.name),
            "duration_ms": .number(Number(Self.milliseconds(from: run.createdAt, to: environment.now))),
        ]
        if let error { data["error"] = .string(error) }
        emit("run.\(status.rawValue)", subject: run.id.rawValue, data: data, actor: actor, &environment)
        actions.append(.runFinished(status))
    }

    // MARK: Recording

    private func subject(_ key: String) -> String { "\(run.id.rawValue)/\(key)" }

    private mutating func update(
        _ key: String, _ environment: inout EngineEnvironment, _ change: (inout TaskRecord) -> Void
    ) {
        guard var record = tasks[key] else { return }
        change(&record)
        record.updatedAt = environment.now
        tasks[key] = record
        dirtyTasks.insert(key)
        if record.status != .running, heldSlots.remove(key) != nil { environment.executionSlots += 1 }
    }

    private mutating func touchRun(_ environment: inout EngineEnvironment) {
        run.updatedAt = environment.now
        runDirty = true
    }

    private mutating func emit(
        _ type: String, subject: String, data: [String: JSONValue], payloads: [String: JSONValue] = [:],
        actor: String? = nil, _ environment: inout EngineEnvironment
    ) {
        changes.events.append(
            EventDraft(
                id: environment.eventID(), time: environment.now, type: type, actor: actor ?? environment.actor,
                tenant: run.tenant, subject: subject, data: data, payloads: payloads))
    }
}
