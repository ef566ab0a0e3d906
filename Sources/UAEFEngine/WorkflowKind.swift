import Foundation
import Logging
import UAEFCore
import UAEFStore

/// The `workflow` agent kind: a task that starts a run of a workflow registered in its tenant (a
/// child run) and waits for it to end, as Step Functions' nested executions and Temporal's child
/// workflows do (or, with `wait: false`, only starts it).
///
/// ```yaml
/// - id: onboard
///   agent: workflow
///   with: {workflow: supplier-onboarding, version: 2, inputs: {supplier: "${{ inputs.supplier }}"}}
/// ```
///
/// - Each attempt starts one child, under the idempotency key `child:<run>/<task key>/<n>`, where
///   *n* is the attempt's number less the task's attempts a stopping process cut off: the attempt
///   that replaces one cut off has the same key and finds its child, whatever state it is in,
///   instead of starting another. A retry (the task's or the run's) has a new key.
/// - The process executing the attempt executes the child (it creates it holding its lease), so
///   `uaef run` executes children too; a child another process holds is waited for, and one no
///   live process holds is taken over.
/// - The child is started by whoever started its parent (the maker its approvals and
///   settlements name), one level deeper, at most ``maximumDepth`` levels under a run started
///   otherwise.
/// - A child that fails fails the attempt (the task's `retry` starts a new child); one that was
///   cancelled fails the task. The attempt timing out, or its run being cancelled or timing out,
///   cancels the child; a process that stops leaves it to be resumed with its parent.
/// - The output is `{"run_id", "workflow", "version", "tasks": {id: output}}`: the outputs of the
///   child's tasks that succeeded (a fan-out's as the list of its instances' outputs).
/// - With `wait: false` the attempt only starts the child (Step Functions' `startExecution`
///   without `.sync`, Temporal's `ABANDON` parent close policy) and succeeds with `{"run_id",
///   "workflow", "version", "detached": true}`. The child is left, unleased, to any runner of the
///   tenant (`uaef serve`, `uaef worker`, `uaef resume`), and goes on whatever its parent comes to:
///   it is not cancelled with it. A tenant has at most ``maximumDetachedRuns`` of them unfinished
///   (10,000 unless set): past that, the task fails (retryably) rather than start another.
public struct WorkflowKind: AgentKind {
    /// What the runner executing an attempt gives it: its engine (``Runner/engine``), and the
    /// attempt's run as the runner holds it, when at hand.
    struct Context: Sendable {
        var engine: Engine
        var run: RunRecord?
    }

    @TaskLocal static var context: Context?

    /// How often a child that another process executes is looked at.
    let pollInterval: Duration

    /// How deep children nest: a workflow that starts itself stops here.
    public static let maximumDepth = 5

    /// How many children started without waiting one tenant may have unfinished: they are
    /// paced by nothing else (no parent waits, no permit), so a fan-out starting itself would
    /// otherwise create runs as fast as the store commits, up to ``maximumDepth`` levels deep.
    public let maximumDetachedRuns: Int

    /// The kind; the store it starts and reads children in is its runner's engine's.
    public init(pollInterval: Duration = .milliseconds(250), maximumDetachedRuns: Int = 10_000) {
        self.pollInterval = pollInterval
        self.maximumDetachedRuns = maximumDetachedRuns
    }

    public var name: String { "workflow" }

    /// It waits on its child, so it runs where its run is orchestrated.
    public var waitsOnStore: Bool { true }

    /// Its child's attempts take slots; a parent waiting in one could keep them all.
    public var takesExecutionSlot: Bool { false }

    public var parameters: WorkflowCatalog.ParameterSpec {
        .init(required: ["workflow"], optional: ["version", "inputs", "wait"])
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        guard let context = Self.context else {
            throw AgentFailure(
                "workflow: a workflow task runs only in a process that orchestrates runs (uaef run, resume, worker, serve)",
                retryable: false)
        }
        let engine = context.engine.forTenant(request.tenant)
        var child = try Self.runRequest(request.parameters, key: Self.childKey(request))
        // Its maker and depth never change: the runner's record of it serves.
        var parent = context.run.flatMap { $0.id == request.runID ? $0 : nil }
        if parent == nil { parent = try await engine.store.run(request.runID, tenant: request.tenant) }
        guard let parent else {
            throw AgentFailure("workflow: run \(request.runID) is no longer in the store", retryable: false)
        }
        guard parent.depth < Self.maximumDepth else {
            throw AgentFailure(
                "workflow: run \(parent.id) is a child \(parent.depth) levels deep, and children nest at most \(Self.maximumDepth) levels (does workflow \(child.workflow) start itself?)",
                retryable: false)
        }
        let waits = try Self.waits(request.parameters)
        child.parent = ChildOrigin(
            link: RunParent(run: parent.id, task: request.key, detached: !waits), depth: parent.depth + 1,
            retriedBy: parent.retriedBy)
        guard waits else {
            return try await startDetached(child, maker: parent.createdBy, engine: engine, logger: logger)
        }
        let snapshot = try await engine.childRuns.withPermit(tenant: request.tenant, depth: parent.depth + 1) {
            try await start(child, maker: parent.createdBy ?? "engine", engine: engine, logger: logger)
        }
        let id = snapshot.run.id
        switch snapshot.run.status {
        case .succeeded:
            return try Self.output(of: snapshot)
        case .cancelled:
            throw AgentFailure(
                "child run \(id) of workflow \(snapshot.run.workflowName) was cancelled", retryable: false)
        default:
            throw AgentFailure(
                "child run \(id) of workflow \(snapshot.run.workflowName) failed: \(snapshot.run.error ?? "no error recorded")"
            )
        }
    }

    /// The child's idempotency key: the same for an attempt and the one replacing it after a
    /// stopping process cut it off, another for each retry.
    static func childKey(_ request: AttemptRequest) -> String {
        "\(Engine.RunRequest.childKeyPrefix)\(request.runID.rawValue)/\(request.key)/\(request.attempt - request.interruptions)"
    }

    /// Starts the child (or finds the one its key started) and follows it to its end.
    private func start(_ child: Engine.RunRequest, maker: String, engine: Engine, logger: Logger) async throws
        -> RunSnapshot
    {
        let start = try await Self.start(child, maker: maker, engine: engine, leased: true).start
        logger.info(
            "child run \(start.created ? "started" : "found")",
            metadata: ["child": "\(start.run)", "workflow": "\(child.workflow)"])
        return try await follow(start.run, created: start.created ? start : nil, engine: engine)
    }

    /// Starts a child without waiting for it (``maximumDetachedRuns`` unfinished at most), or
    /// finds the one its key started: `{"run_id", "workflow", "version", "detached": true}`.
    private func startDetached(_ child: Engine.RunRequest, maker: String?, engine: Engine, logger: Logger)
        async throws -> JSONValue
    {
        let limit = maximumDetachedRuns
        // At the bound, only a child this attempt's key already started (a replaced attempt's) is found.
        if try await engine.store.unfinishedDetachedRuns(tenant: engine.tenant, limit: limit) >= limit,
            let key = child.idempotencyKey, try await engine.store.runRequest(key: key, tenant: engine.tenant) == nil
        {
            throw AgentFailure(
                "workflow: tenant \(engine.tenant) has \(limit) unfinished child runs started without waiting, the most it may have; retried once some have ended"
            )
        }
        let (start, found) = try await Self.start(child, maker: maker ?? "engine", engine: engine, leased: false)
        logger.info(
            "detached child run \(start.created ? "started" : "found")",
            metadata: ["child": "\(start.run)", "workflow": "\(child.workflow)"])
        return [
            "run_id": .string(start.run.rawValue), "workflow": .string(found?.workflowName ?? start.definition.name),
            "version": .number(Number(found?.workflowVersion ?? start.definition.version)), "detached": true,
        ]
    }

    /// Starts the child, or finds the one its key started (then also its record); a request the
    /// registry refuses, or a child found that an earlier attempt started with the other `wait`,
    /// fails the task.
    private static func start(_ child: Engine.RunRequest, maker: String, engine: Engine, leased: Bool) async throws
        -> (start: Engine.RunStart, found: RunRecord?)
    {
        let start: Engine.RunStart
        do {
            start = try await engine.start(child, actor: maker, leased: leased)
        } catch let error as RegistryError {
            throw AgentFailure("workflow: \(error)", retryable: false)
        } catch let error as ValidationFailure {
            throw AgentFailure("workflow \(child.workflow): \(error)", retryable: false)
        }
        guard !start.created else { return (start, nil) }
        let found = try await engine.store.run(start.run, tenant: engine.tenant)
        let detached = child.parent?.link.detached ?? false
        if let found, (found.parent?.detached ?? false) != detached {
            throw AgentFailure(
                "workflow: child run \(start.run) was started by an earlier attempt \(detached ? "waiting for it" : "without waiting (wait: false)"), and this attempt's wait is \(!detached); the task's wait must not change between attempts",
                retryable: false)
        }
        return (start, found)
    }

    /// Whether the task waits for its child: `wait`, a boolean, true unless given.
    static func waits(_ parameters: [String: JSONValue]) throws -> Bool {
        guard let given = parameters["wait"], given != .null else { return true }
        guard case .bool(let waits) = given else {
            throw AgentFailure(
                "workflow: `wait` must be true (wait for the child to end, the default) or false (only start it)",
                retryable: false)
        }
        return waits
    }

    /// The request a task's parameters make: `workflow` a name, `version` a whole number from 1,
    /// `inputs` an object.
    static func runRequest(_ parameters: [String: JSONValue], key: String) throws -> Engine.RunRequest {
        guard let workflow = parameters["workflow"]?.stringValue, !workflow.isEmpty else {
            throw AgentFailure("workflow: `workflow` must name a registered workflow", retryable: false)
        }
        var version: Int?
        if let given = parameters["version"], given != .null {
            guard let number = given.numberValue?.intValue, number >= 1 else {
                throw AgentFailure(
                    "workflow: `version` must be a whole number from 1 (or left out for the latest)", retryable: false)
            }
            version = number
        }
        var inputs: [String: JSONValue] = [:]
        if let given = parameters["inputs"], given != .null {
            guard case .object(let members) = given else {
                throw AgentFailure("workflow: `inputs` must be an object of the child's inputs", retryable: false)
            }
            inputs = members
        }
        return Engine.RunRequest(workflow: workflow, version: version, inputs: inputs, idempotencyKey: key)
    }

    /// The child once it has ended (its run and tasks): executed here when this process created
    /// it or can take it, else watched until the process that holds it ends it.
    private func follow(_ id: RunID, created start: Engine.RunStart?, engine: Engine) async throws -> RunSnapshot {
        let stop = AttemptStop.current
        if let start {
            let created = start.createdRecord.map { [id: $0] } ?? [:]
            do {
                let ended = try await executeHere(id, engine: engine, stop: stop) {
                    try await engine.runner.executeToEnd(
                        [id], tenant: engine.tenant, definitions: [id: start.definition], created: created)[id]
                }
                // As it ended here: its tasks need no reading back.
                if let ended { return RunSnapshot(run: ended.run, tasks: Array(ended.tasks.values), attempts: []) }
            } catch  where !Task.isCancelled {
                // Its runner gave it up (a store error, a lost lease): it is followed below and taken
                // over when it can be, rather than left for the task's retry to start another.
            }
        }
        do {
            while true {
                guard let run = try await engine.store.run(id, tenant: engine.tenant) else {
                    throw AgentFailure("workflow: child run \(id) is no longer in the store", retryable: false)
                }
                var ended = run.status.isTerminal
                if !ended {
                    ended = try await executeHere(id, engine: engine, stop: stop) { try await engine.resume(id) } != nil
                }
                if ended, let snapshot = try await engine.store.snapshot(of: id, tenant: engine.tenant) {
                    return snapshot
                }
                try await Task.sleep(for: pollInterval)
            }
        } catch {
            // Given up, the child is cancelled (by the process executing it, if another does),
            // unless this process is stopping: then it resumes with its parent.
            if !Task.isCancelled || stop?.reason != nil { await Self.cancel(id, engine: engine) }
            throw error
        }
    }

    /// Runs `execution` (which executes the child here) apart from this attempt's cancellation:
    /// when the attempt is stopped with a reason, the child is cancelled and its runner here ends
    /// it; when it is stopped with none (the process stopping), its execution is stopped, leaving
    /// it to be resumed.
    private func executeHere<Ended: Sendable>(
        _ id: RunID, engine: Engine, stop: AttemptStop?,
        _ execution: @escaping @Sendable () async throws -> Ended?
    ) async throws -> Ended? {
        let task = Task { try await execution() }
        let status = try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            guard stop?.reason != nil else { return task.cancel() }
            Task {
                // Should the request fail, the child is left to be resumed rather than waited for.
                if await !Self.cancel(id, engine: engine) { task.cancel() }
            }
        }
        try Task.checkCancellation()
        return status
    }

    /// Cancels the child, outside the (cancelled) attempt's task, where a store refuses calls;
    /// false when the store refused the request.
    @discardableResult
    private static func cancel(_ id: RunID, engine: Engine) async -> Bool {
        await Task { (try? await engine.cancel(id, actor: "engine")) != nil }.value
    }

    /// A succeeded child's output, within ``ValueLimits``.
    static func output(of snapshot: RunSnapshot) throws -> JSONValue {
        var tasks: [String: JSONValue] = [:]
        for task in snapshot.tasks where task.key == task.taskID && task.status == .succeeded {
            tasks[task.key] = task.output ?? .null
        }
        let output: JSONValue = [
            "run_id": .string(snapshot.run.id.rawValue), "workflow": .string(snapshot.run.workflowName),
            "version": .number(Number(snapshot.run.workflowVersion)), "tasks": .object(tasks),
        ]
        if let violation = ValueLimits.check(output) {
            throw AgentFailure(
                "child run \(snapshot.run.id) succeeded, but its tasks' outputs together are too large for a task's output (\(violation)); have its tasks return less",
                retryable: false)
        }
        return output
    }
}
