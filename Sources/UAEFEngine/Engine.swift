import Foundation
import Logging
import UAEFCore
import UAEFSecrets
import UAEFStore

/// The engine's front door, used by the CLI and the HTTP API: validate, start, resume, cancel
/// and report runs on one store.
public struct Engine: Sendable {
    public let store: any WorkflowStore
    public let kinds: AgentKindRegistry
    /// Workflow sections other modules own, checked with every workflow this engine validates.
    public let sections: [any WorkflowSection]
    public let configuration: Runner.Configuration
    public let logger: Logger
    public private(set) var tenant: String
    /// Registered workflow versions already parsed, shared by every tenant's copy of the engine.
    let definitions = BoundedCache<WorkflowDefinition>(capacity: 1_000)
    /// The child runs this process executes at once, shared by every tenant's copy of the engine.
    let childRuns: ChildRunPermits

    /// An engine on `store` executing `kinds`, checking `sections` (settlement's
    /// `SettlementSection`, when workflows may carry `settlements:`) in every workflow it validates.
    public init(
        store: any WorkflowStore, kinds: AgentKindRegistry, sections: [any WorkflowSection], tenant: String = "default",
        configuration: Runner.Configuration = .init(), logger: Logger
    ) {
        self.store = store
        self.sections = sections
        self.kinds = Self.prepare(kinds, store: store, secrets: configuration.secrets)
        self.tenant = tenant
        self.configuration = configuration
        self.logger = logger
        childRuns = ChildRunPermits(capacity: configuration.maxConcurrency)
    }

    /// `kinds` as an engine on `store` executes them: with the approval, remote and workflow kinds,
    /// which wait on the store (a `workflow` kind given is kept, with its settings), and with the
    /// kinds that reach other systems given credentials from the tenant's secrets (opened with
    /// `secrets`).
    public static func prepare(_ kinds: AgentKindRegistry, store: any WorkflowStore, secrets: SecretBox?)
        -> AgentKindRegistry
    {
        var kinds = kinds
        kinds.register(ApprovalKind(store: store))
        kinds.register(RemoteKind(store: store))
        if kinds["workflow"] == nil { kinds.register(WorkflowKind()) }
        for name in SecretResolvingKind.kinds {
            if let kind = kinds[name] {
                kinds.register(SecretResolvingKind(wrapped: kind, resolver: SecretResolver(store: store, box: secrets)))
            }
        }
        return kinds
    }

    /// The same engine acting for another tenant (one store, one process identity).
    public func forTenant(_ tenant: String) -> Engine {
        var engine = self
        engine.tenant = tenant
        return engine
    }

    var runner: Runner {
        var runner = Runner(
            store: store, kinds: kinds, configuration: configuration, logger: logger, parsedSources: definitions)
        runner.engine = self
        return runner
    }

    /// Validates a workflow file against the built-in kinds and the tenant's registered
    /// capabilities (any capability with `anyCapability`, as for a template not yet used), with
    /// its ``sections``; every problem of all is reported together.
    public func validate(_ text: String, file: String, anyCapability: Bool = false) async throws -> WorkflowDefinition {
        let capabilities: Set<String>? =
            anyCapability
            ? nil : Set(try await store.agents(tenant: tenant).filter { $0.status != .retired }.flatMap(\.capabilities))
        // One parse of the YAML serves the workflow and its sections.
        let root: YAMLSource
        switch YAMLSource.parse(text, file: file) {
        case .success(let source): root = source
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        var issues: [ValidationIssue] = []
        var definition: WorkflowDefinition?
        var catalog = kinds.catalog(capabilities: capabilities)
        catalog.sections = Set(sections.map(\.key))
        do {
            definition = try WorkflowParser.parse(root, source: text, file: file, catalog: catalog)
        } catch { issues += error.issues }
        for section in sections { issues += section.problems(in: root, file: file) }
        guard issues.isEmpty, let definition else {
            throw ValidationFailure(issues: issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return definition
    }

    /// Creates a run. With `leased` this process holds its lease and is expected to execute it;
    /// otherwise it waits for any runner (`uaef resume`, `uaef worker`, `uaef serve`).
    public func submit(
        _ definition: WorkflowDefinition, file: String, inputs: [String], actor: String, leased: Bool
    ) async throws -> RunID {
        let overrides = try RunCreation.parseOverrides(inputs, definition: definition)
        return try await submit(definition, file: file, overrides: overrides, actor: actor, leased: leased).id
    }

    /// Creates a run with checked input overrides and returns it as created; `request` records the
    /// idempotency key it was started under, in the same transaction (``KeyTaken`` when the key is
    /// already used), and so do the changes `alongside` makes for the new run's id.
    func submit(
        _ definition: WorkflowDefinition, file: String, overrides: [String: JSONValue], actor: String, leased: Bool,
        request: (key: String, sha256: String)? = nil, parent: ChildOrigin? = nil,
        alongside: ((RunID) -> ChangeSet)? = nil
    ) async throws -> RunRecord {
        var random = SeededRandom.system()
        let now = Date()
        let id = RunID.generate(at: now, using: &random)
        var changes = RunCreation.changes(
            id: id, definition: definition, file: file, overrides: overrides, tenant: tenant, actor: actor,
            owner: leased ? configuration.owner : nil, leaseDuration: configuration.leaseDuration, now: now,
            random: &random, parent: parent)
        if let request {
            changes.runRequests.append(
                RunRequestRecord(tenant: tenant, key: request.key, sha256: request.sha256, runID: id, createdAt: now))
        }
        if let alongside { changes.append(alongside(id)) }
        try await store.commit(changes)
        return changes.runs[0]
    }

    /// Executes runs this process holds until they end; `definitions` spares re-reading workflows
    /// this process has just validated.
    public func execute(
        _ runs: [RunID], definitions: [RunID: WorkflowDefinition] = [:], created: [RunID: RunRecord] = [:],
        progress: (@Sendable (Runner.Progress) -> Void)? = nil
    ) async throws -> [RunID: RunStatus] {
        try await runner.execute(runs, tenant: tenant, definitions: definitions, created: created, progress: progress)
    }

    /// Takes over every unfinished run of the tenant that no live process holds and executes them until they end.
    public func resume(progress: (@Sendable (Runner.Progress) -> Void)? = nil) async throws -> [RunID: RunStatus] {
        let now = Date()
        let claimed = try await store.claimUnfinishedRuns(
            tenant: tenant, owner: configuration.owner, now: now,
            expiresAt: now.addingTimeInterval(configuration.leaseDuration.timeInterval),
            limit: .max, isOwnerAlive: ProcessIdentity.isAlive)
        return try await execute(claimed, progress: progress)
    }

    /// Takes over one unfinished run of the tenant when no live process holds it and executes it
    /// until it ends; nil when the tenant has no such unfinished run or another process holds it.
    public func resume(_ id: RunID, progress: (@Sendable (Runner.Progress) -> Void)? = nil) async throws
        -> RunStatus?
    {
        guard let run = try await store.run(id, tenant: tenant), !run.status.isTerminal else {
            return nil
        }
        let now = Date()
        guard
            try await store.claim(
                id, owner: configuration.owner, now: now,
                expiresAt: now.addingTimeInterval(configuration.leaseDuration.timeInterval),
                isOwnerAlive: ProcessIdentity.isAlive)
        else { return nil }
        return try await execute([id], progress: progress)[id]
    }

    /// Erases the stored payloads (inputs and outputs) of a finished run, or of one of its tasks,
    /// recording a `payload.redacted` event with who, why and the digests erased. The ledger
    /// keeps verifying: it holds the digests, never the payloads.
    public func redact(_ id: RunID, task: String?, reason: String, actor: String) async throws -> RedactionOutcome {
        var random = SeededRandom.system()
        let now = Date()
        var data: [String: JSONValue] = ["reason": .string(reason)]
        if let task { data["task"] = .string(task) }
        let event = EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "payload.redacted", actor: actor,
            tenant: tenant, subject: task.map { "\(id.rawValue)/\($0)" } ?? id.rawValue, data: data)
        return try await store.redactPayloads(of: id, tenant: tenant, task: task, event: event)
    }

    /// Requests cancellation. A run no live process executes is cancelled here and now; otherwise
    /// its runner acts on the request within its poll interval. Nil when there is no such run.
    public func cancel(_ id: RunID, actor: String) async throws -> RunRecord? {
        var random = SeededRandom.system()
        let now = Date()
        let event = EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "run.cancel_requested",
            actor: actor, tenant: tenant, subject: id.rawValue, data: [:])
        guard let stored = try await store.run(id, tenant: tenant) else { return nil }
        guard !stored.status.isTerminal else { return stored }
        // Asked once: a second request records no second event (the store checks, in its write).
        guard let run = try await store.requestCancel(of: id, tenant: tenant, event: event) else { return nil }
        let holderAlive =
            run.owner.map { ProcessIdentity.isAlive($0) && (run.leaseExpiresAt ?? .distantPast) > now } ?? false
        guard !holderAlive else { return run }
        let claimed = try await store.claim(
            id, owner: configuration.owner, now: now,
            expiresAt: now.addingTimeInterval(configuration.leaseDuration.timeInterval),
            isOwnerAlive: ProcessIdentity.isAlive)
        guard claimed, let current = try await store.snapshot(of: id, tenant: tenant) else { return run }
        let definition = try WorkflowParser.parse(
            current.run.workflowSource, file: current.run.workflowFile, catalog: kinds.catalog(capabilities: nil))
        var machine = RunStateMachine(
            definition: definition, run: current.run, tasks: current.tasks, attempts: current.attempts)
        var environment = EngineEnvironment(now: now, random: random, agents: AgentPool(agents: []), actor: actor)
        _ = machine.handle(.cancel(actor: actor, reason: "cancelled on request"), in: &environment)
        // Withdrawn before the cancellation commits: no remote agent or worker takes up an attempt
        // of a run no process waits for (should this process stop in between, the run's cancel
        // request stands, and its next holder ends it).
        try await store.cancelRemoteTasks(ofRun: id, tenant: tenant, now: now)
        try await store.commit(machine.takeChanges())
        try await store.releaseLeases(
            LeaseFence(owner: configuration.owner, generations: [id: current.run.leaseGeneration]))
        try await cancelChildren(of: id, actor: actor)
        return machine.run
    }

    /// Cancels the unfinished child runs that run `id`'s `workflow` tasks started and wait for
    /// (``WorkflowKind``), and so theirs: a run that ended failed or cancelled no longer waits for
    /// them. Children started without waiting (`wait: false`) go on.
    func cancelChildren(of id: RunID, actor: String) async throws {
        for child in try await allRuns(matching: RunFilter(parent: id, unfinished: true, detached: false)) {
            _ = try await cancel(child.id, actor: actor)
        }
    }

    /// Every run of the tenant that `filter` matches, newest first, read 500 at a time.
    private func allRuns(matching filter: RunFilter) async throws -> [RunRecord] {
        var filter = filter
        var runs: [RunRecord] = []
        while true {
            let page = try await store.runs(tenant: tenant, matching: filter, limit: 500)
            runs += page
            guard page.count == 500, let last = page.last else { return runs }
            filter.before = last.id
        }
    }

    /// Cancels run `id` (``cancel(_:actor:)``) and every run below it that has not ended: the
    /// children its `workflow` tasks started, waited for or not (`wait: false`), and theirs in
    /// turn, whatever `id` itself came to. An operator's stop for a tree of runs, which a plain
    /// cancellation leaves going where children were started without waiting. Nil when the tenant
    /// has no such run; otherwise the run and how many runs below it had not ended. A child
    /// started while the walk goes on, by an attempt already under way, is not reached.
    public func cancelTree(_ id: RunID, actor: String) async throws -> (run: RunRecord, descendants: Int)? {
        // Found before any is cancelled (a run's own cancellation cancels the children it waits
        // for); an id the tenant has no run by has none.
        let unfinished = try await unfinishedDescendants(of: id)
        guard let run = try await cancel(id, actor: actor) else { return nil }
        for descendant in unfinished { _ = try await cancel(descendant, actor: actor) }
        return (run, unfinished.count)
    }

    /// The runs below run `id` that have not ended, parents before their children. Ended children
    /// are walked too: one started without waiting may have children still going. Children nest
    /// at most ``WorkflowKind/maximumDepth`` levels, so the walk ends.
    private func unfinishedDescendants(of id: RunID) async throws -> [RunID] {
        var unfinished: [RunID] = []
        var parents = [id]
        var next = 0
        while next < parents.count {
            let children = try await allRuns(matching: RunFilter(parent: parents[next]))
            next += 1
            parents += children.map(\.id)
            unfinished += children.filter { !$0.status.isTerminal }.map(\.id)
        }
        return unfinished
    }

    /// Retries the tenant's failed or cancelled run `id` from where it stopped (``RunRetry``): the
    /// tasks that did not succeed, and those downstream of them, run again; so do the tasks named
    /// in `from` (which may also reopen a succeeded run) and those downstream of them. A
    /// `run.retried` event by `actor` names them. With `leased` this process holds the run's lease
    /// and is expected to execute it (``execute(_:definitions:created:progress:)``); otherwise it
    /// is left for any runner of the tenant (`uaef resume`, `uaef worker`, `uaef serve`). Nil when
    /// the tenant has no such run; throws ``RunRetry/Refusal`` when it cannot be retried so, with
    /// nothing changed.
    public func retry(_ id: RunID, from named: [String] = [], actor: String, leased: Bool = false) async throws
        -> RunRetry.Outcome?
    {
        guard let snapshot = try await store.snapshot(of: id, tenant: tenant) else { return nil }
        // Refused before its workflow is parsed: a run that cannot be retried says so, whatever its source.
        if let refusal = RunRetry.refusal(snapshot.run, from: named) { throw refusal }
        let now = Date()
        let plan = try RunRetry.plan(snapshot, definition: try runner.parse(snapshot.run), from: named, now: now)
        // What the run's earlier go may have left queued (a process stopped between an attempt's
        // end and its task's withdrawal) is never executed beside the retry's own attempts. Only
        // the attempts read here: a retry racing this one keeps the attempts it starts.
        try await store.cancelRemoteTasks(
            idempotencyKeys: snapshot.attempts.map(\.idempotencyKey), tenant: tenant, now: now)
        var random = SeededRandom.system()
        var changes = ChangeSet()
        changes.tasks = plan.tasks
        // A task named starts afresh: an ERP job it submitted before is not resumed but sent again.
        changes.taskCheckpoints = plan.afresh.map {
            TaskCheckpoint(
                tenant: tenant, run: id, taskKey: $0, value: TaskCheckpoint.afresh(retry: snapshot.run.retryCount + 1),
                attempt: 0, updatedAt: now)
        }
        changes.events = [
            EventDraft(
                id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "run.retried", actor: actor,
                tenant: tenant, subject: id.rawValue,
                data: [
                    "workflow": .string(snapshot.run.workflowName),
                    "retry": .number(Number(snapshot.run.retryCount + 1)),
                    "previous_status": .string(snapshot.run.status.rawValue),
                    // A fan-out of thousands reopened is counted, not listed whole.
                    "tasks": .array(plan.reopened.prefix(RunRetry.listedTasks).map(JSONValue.string)),
                    "reopened": .number(Number(plan.reopened.count)),
                    "from": .array(plan.from.map(JSONValue.string)),
                ])
        ]
        guard
            let run = try await store.reopen(
                snapshot.run, at: now, by: actor,
                holder: leased
                    ? (configuration.owner, now.addingTimeInterval(configuration.leaseDuration.timeInterval)) : nil,
                changes: changes)
        else {
            throw RunRetry.Refusal(
                "run \(id) changed while it was being retried (another retry or a redaction came first); look at it again"
            )
        }
        return RunRetry.Outcome(run: run, reopened: plan.reopened)
    }

    /// The run as `uaef run --json` prints it, or nil.
    public func report(_ id: RunID) async throws -> JSONValue? {
        try await store.snapshot(of: id, tenant: tenant).map(RunReport.json)
    }
}

/// The JSON shape of a run shared by `uaef run --json`, `uaef runs show --json` and the API.
public enum RunReport {
    /// `{"run_id", "workflow", "status", "error", "created_at", "ended_at", "retry_count",
    /// "retried_by", "parent", "tasks": {key: {...}}}`.
    public static func json(_ snapshot: RunSnapshot) -> JSONValue {
        var tasks: [String: JSONValue] = [:]
        for task in snapshot.tasks {
            var entry: [String: JSONValue] = [
                "status": .string(task.status.rawValue), "attempts": .number(Number(task.attempts)),
                "agent": task.agentID.map { .string($0.rawValue) } ?? .null, "output": task.output ?? .null,
                "error": task.error.map(JSONValue.string) ?? .null,
            ]
            if let reason = task.reason { entry["reason"] = .string(reason) }
            tasks[task.key] = .object(entry)
        }
        return [
            "run_id": .string(snapshot.run.id.rawValue), "workflow": .string(snapshot.run.workflowName),
            "status": .string(snapshot.run.status.rawValue), "error": snapshot.run.error.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.format(snapshot.run.createdAt)),
            "ended_at": snapshot.run.endedAt.map { .string(Timestamp.format($0)) } ?? .null, "tasks": .object(tasks),
            "retry_count": .number(Number(snapshot.run.retryCount)),
            "retried_by": snapshot.run.retriedBy.map(JSONValue.string) ?? .null, "parent": parent(of: snapshot.run),
        ]
    }

    /// `{"run_id", "task"}` of the run whose `workflow` task started `run`, or null.
    static func parent(of run: RunRecord) -> JSONValue {
        guard let parent = run.parent else { return .null }
        return [
            "run_id": .string(parent.run.rawValue), "task": .string(parent.task), "detached": .bool(parent.detached),
        ]
    }

    /// A run in a list (`GET /v1/runs`, `uaef runs list --json`): `{"run_id", "workflow",
    /// "version", "status", "error", "created_at", "ended_at", "retry_count", "retried_by", "parent"}`, and
    /// `"task_counts"` when
    /// `taskCounts` are given.
    public static func summary(_ run: RunRecord, taskCounts: [TaskStatus: Int]? = nil) -> JSONValue {
        var summary: [String: JSONValue] = [
            "run_id": .string(run.id.rawValue), "workflow": .string(run.workflowName),
            "version": .number(Number(run.workflowVersion)), "status": .string(run.status.rawValue),
            "error": run.error.map(JSONValue.string) ?? .null, "created_at": .string(Timestamp.format(run.createdAt)),
            "ended_at": run.endedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "retry_count": .number(Number(run.retryCount)),
            "retried_by": run.retriedBy.map(JSONValue.string) ?? .null, "parent": parent(of: run),
        ]
        if let taskCounts { summary["task_counts"] = Self.json(taskCounts) }
        return .object(summary)
    }

    /// `{"total", "ended", and each task status}`: every status is there, zero when no task has it.
    public static func json(_ taskCounts: [TaskStatus: Int]) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for status in TaskStatus.allCases { members[status.rawValue] = .number(Number(taskCounts[status] ?? 0)) }
        members["total"] = .number(Number(taskCounts.total))
        members["ended"] = .number(Number(taskCounts.ended))
        return .object(members)
    }
}
