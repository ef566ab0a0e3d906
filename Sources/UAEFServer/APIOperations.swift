import Foundation
import HTTPTypes
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFSchedules
import UAEFSettlement
import UAEFStore
import UAEFTemplates

/// What the API does for a caller, in one place for both of its faces: the `/v1` HTTP routes and
/// the MCP tools (``MCPToolbox``) call these, so a run started, an approval decided or a proof
/// read is the same operation with the same checks whichever way it was asked for.
///
/// Each operation works inside the principal's tenant; the permission it needs is checked by the
/// caller (the route or the tool), which knows how to answer a refusal.
struct APIOperations: Sendable {
    let runtime: ServerRuntime
    /// Executes the runs started here at once; nil leaves them, unleased, for any worker of their
    /// tenant to claim (a Lambda function answers and is frozen, so it executes nothing after).
    let executor: RunExecutor?
    let ledgerChanges: LedgerChanges
    /// Told of each run left to others (no ``executor``), so that something executes it soon.
    var announcer: (any RunAnnouncer)? = nil
    /// The workflow templates offered.
    var templates: TemplateCatalog = .builtIn

    var store: any WorkflowStore { runtime.engine.store }

    /// What starting a run did: the run's report, and whether it was created now (false when
    /// the idempotency key found an earlier run).
    struct StartedRun {
        var run: RunID
        var report: JSONValue
        var created: Bool
    }

    /// Starts a run (or finds the one its idempotency key started) and executes a new one in this
    /// process at once, or leaves it to the workers (``executor``).
    func startRun(_ request: Engine.RunRequest, by principal: Principal) async throws -> StartedRun {
        let engine = runtime.engine(for: principal.tenant)
        return try await started(
            try await engine.start(request, actor: principal.actor, leased: executor != nil), engine)
    }

    /// The tenant's schedules, to save, pause, resume and remove.
    func scheduleRegistry(tenant: String) -> ScheduleRegistry {
        ScheduleRegistry(engine: runtime.engine(for: tenant))
    }

    /// Starts a schedule's workflow now, as its next slot would (``ScheduleRegistry/trigger``).
    func triggerSchedule(_ name: String, by principal: Principal) async throws -> StartedRun {
        let start = try await scheduleRegistry(tenant: principal.tenant).trigger(
            name, actor: principal.actor, leased: executor != nil)
        return try await started(start, runtime.engine(for: principal.tenant))
    }

    /// Starts the runs of a schedule's slots from `from` to `to` that have none yet
    /// (``ScheduleRegistry/backfill``). Up to a thousand runs: they are left unleased for the
    /// server's runners to claim as their concurrency allows, not all executed here at once (a
    /// Lambda deployment announces each, as it does every run it leaves to others).
    func backfillSchedule(_ name: String, from: Date, to: Date, by principal: Principal) async throws
        -> ScheduleRegistry.Backfill
    {
        let announcer = executor == nil ? announcer : nil
        return try await scheduleRegistry(tenant: principal.tenant).backfill(
            name, from: from, to: to, actor: principal.actor, leased: false
        ) { start in
            if let created = start.createdRecord { await announcer?.announce(created) }
        }
    }

    /// Executes a new run here at once or leaves it to the workers, and reports it: a new run as
    /// created (no read), one found under its key as it is now.
    private func started(_ start: Engine.RunStart, _ engine: Engine) async throws -> StartedRun {
        if let created = start.createdRecord {
            if let executor {
                executor.execute(created, definition: start.definition, engine: engine)
            } else {
                await announcer?.announce(created)
            }
            return StartedRun(
                run: start.run, report: RunReport.json(RunSnapshot(run: created, tasks: [], attempts: [])),
                created: true)
        }
        guard let current = try await engine.report(start.run) else { throw Problem.notFound("run \(start.run)") }
        return StartedRun(run: start.run, report: current, created: false)
    }

    /// A run's report as JSON text; an ended run's is kept (only a redaction changes it).
    func runReport(_ id: String, tenant: String) async throws -> String {
        let key = ServerRuntime.reportKey(tenant: tenant, run: id)
        if let cached = runtime.finishedRuns.value(for: key) { return cached }
        // A redaction or retry seen while this report is rendered may already have passed its key by.
        let changes = runtime.endedRunsChanged.generation
        guard let snapshot = try await store.snapshot(of: RunID(id), tenant: tenant) else {
            throw Problem.notFound("run \(id)")
        }
        let text = RunReport.json(snapshot).jsonText
        if snapshot.run.status.isTerminal && runtime.endedRunsChanged.generation == changes {
            runtime.finishedRuns.keep(text, for: key)
        }
        return text
    }

    /// The tenant's schedules, by name.
    func schedules(tenant: String) async throws -> JSONValue {
        ["schedules": .array(try await store.schedules(tenant: tenant).map { ScheduleReport.json($0) })]
    }

    /// Every template offered, without their files.
    func templateList() -> JSONValue {
        ["templates": .array(templates.templates.map { $0.json(source: false) })]
    }

    /// The template named `name` (404 when there is none).
    func template(named name: String) throws -> WorkflowTemplate {
        guard let template = templates.template(named: name) else { throw Problem.notFound("template '\(name)'") }
        return template
    }

    /// What making a workflow from a template did: the report, and the registration unless it was a dry run.
    struct MadeWorkflow {
        var report: JSONValue
        var registered: Engine.Registration?
    }

    /// Makes a workflow from a template and validates it against the tenant's agents; registers it
    /// (recording the template and values in `workflow.registered`) unless it is a dry run.
    func useTemplate(_ name: String, _ use: TemplateUse, by principal: Principal) async throws -> MadeWorkflow {
        let template = try template(named: name)
        let instance = try template.instantiate(named: use.workflowName, values: use.parameters, place: "parameters")
        let engine = runtime.engine(for: principal.tenant)
        if !use.replace,
            let latest = try await store.workflowVersions(named: instance.workflowName, tenant: principal.tenant).last,
            let takeover = template.takeover(of: latest.name, version: latest.version, source: latest.source)
        {
            throw Problem(
                .conflict, "workflow-exists",
                "\(takeover); give another name, or replace: true to register this as its next version")
        }
        var report: [String: JSONValue] = [
            "workflow": .string(instance.workflowName), "template": instance.provenance,
            "source": .string(instance.source),
        ]
        guard !use.dryRun else {
            _ = try await engine.validate(instance.source, file: "template \(name)")
            return MadeWorkflow(report: .object(report), registered: nil)
        }
        let registration = try await registerWorkflow(
            instance.source, origin: "template \(name)", by: principal, template: instance.provenance)
        var registered = WorkflowRoutes.json(registration.workflow, source: false).objectValue ?? [:]
        registered["created"] = .bool(registration.created)
        report["registered"] = .object(registered)
        return MadeWorkflow(report: .object(report), registered: registration)
    }

    /// Registers a workflow's source as its name's next version; a new version takes effect for
    /// connector triggers at once.
    func registerWorkflow(_ source: String, origin: String, by principal: Principal, template: JSONValue? = nil)
        async throws -> Engine.Registration
    {
        let registration = try await runtime.engine(for: principal.tenant).register(
            source, origin: origin, actor: principal.actor, template: template)
        if registration.created { runtime.workflowTriggers.forget(tenant: principal.tenant) }
        return registration
    }

    /// The latest version of each of the tenant's workflows.
    func workflows(tenant: String) async throws -> JSONValue {
        ["workflows": .array(try await store.workflows(tenant: tenant).map { WorkflowRoutes.json($0, source: false) })]
    }

    /// A page of the tenant's runs, newest first, with the cursor of the next page (null at the end);
    /// with `taskCounts`, each run's tasks counted by status.
    func runs(matching filter: RunFilter, limit: Int, taskCounts: Bool = false, tenant: String) async throws
        -> JSONValue
    {
        let page = try await store.runs(tenant: tenant, matching: filter, limit: limit + 1)
        let shown = page.prefix(limit)
        let counts = taskCounts ? try await store.taskCounts(of: shown.map(\.id), tenant: tenant) : nil
        return [
            "runs": .array(shown.map { run in RunReport.summary(run, taskCounts: counts.map { $0[run.id] ?? [:] }) }),
            "next_cursor": page.count > limit ? .string(shown.last!.id.rawValue) : .null,
        ]
    }

    /// A workflow's latest version (or `version`) with its source and every version's summary.
    func workflow(named name: String, version: Int?, tenant: String) async throws -> JSONValue {
        let versions = try await store.workflowVersions(named: name, tenant: tenant)
        guard let latest = versions.last else { throw Problem.notFound("workflow '\(name)'") }
        var shown = latest
        if let version {
            guard let match = versions.first(where: { $0.version == version }) else {
                throw Problem.notFound("version \(version) of workflow '\(name)' (latest: \(latest.version))")
            }
            shown = match
        }
        var body = WorkflowRoutes.json(shown, source: true).objectValue ?? [:]
        body["versions"] = .array(versions.map { WorkflowRoutes.json($0, source: false) })
        return .object(body)
    }

    /// What waits for a decision: approval tasks of runs still waiting, then settlements pending
    /// approval.
    func waitingApprovals(tenant: String) async throws -> [JSONValue] {
        let engine = runtime.engine(for: tenant)
        var waiting: [JSONValue] = []
        for approval in try await store.taskApprovals(tenant: tenant, status: .pending)
        where try await engine.isWaiting(approval) {
            waiting.append(SettlementJSON.approval(approval))
        }
        for settlement in try await store.settlements(
            tenant: tenant, status: .pendingApproval, before: nil, limit: 1000)
        {
            var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
            value["kind"] = "settlement"
            // What its rule asks for, as an approval task says it.
            value["role"] = settlement.detail["approval"]?["role"] ?? .null
            value["approvers"] = settlement.detail["approval"]?["approvers"] ?? .null
            waiting.append(.object(value))
        }
        return waiting
    }

    /// Approves or rejects an approval task or a settlement as `principal`, in the approval role
    /// `role` names (or, with `asNeeded`, the one the approval asks for; else the principal's only
    /// one); the maker-checker rules are the engine's.
    func decide(
        _ id: String, _ decision: ApprovalRecord.Decision, role asked: String?, asNeeded: Bool = false,
        reason: String?, by principal: Principal
    ) async throws -> JSONValue {
        let engine = runtime.engine(for: principal.tenant)
        // Another tenant's approval does not exist for this caller: 404 before any role check.
        let task = try await store.taskApproval(id, tenant: principal.tenant)
        let settlement = task == nil ? try await store.settlement(id, tenant: principal.tenant)?.0 : nil
        if task == nil, settlement == nil { throw Problem.notFound("approval \(id)") }
        let isTask = task != nil
        let needed = task?.role ?? settlement?.detail["approval"]?["role"]?.stringValue
        let role = try SettlementRoutes.approvalRole(asked ?? (asNeeded ? needed : nil), of: principal)
        let result =
            isTask
            ? SettlementJSON.approval(
                try await engine.decide(task: id, decision, principal: principal.actor, role: role, reason: reason))
            : SettlementJSON.settlement(
                try await engine.decide(id, decision, principal: principal.actor, role: role, reason: reason))
        await ledgerChanges.mark(principal.tenant)
        return result
    }

    /// The inclusion proof of the tenant's event `index` in the tree of `size` events (the
    /// current tree when nil); another tenant's event does not exist for this caller.
    func inclusionProof(index: Int, size: Int?, tenant: String) async throws -> JSONValue {
        guard index >= 0, index < Int(Int64.max) else { throw Problem.notFound("event \(index)") }
        let seq = Int64(index)
        guard try await store.events(in: seq..<(seq + 1), tenant: tenant).first != nil else {
            throw Problem.notFound("event \(index)")
        }
        do {
            return try await LedgerDocuments.inclusion(index: index, size: size, store: store)
        } catch let error as LedgerDocuments.OutOfRange {
            throw Problem.badRequest(error.description)
        }
    }

    /// Asks for the cancellation of the tenant's run `id` as `principal`, with `tree` of every run
    /// below it that has not ended (``Engine/cancelTree(_:actor:)``); a 404 problem when the tenant
    /// has no such run.
    func cancelRun(_ id: String, tree: Bool = false, by principal: Principal) async throws {
        let engine = runtime.engine(for: principal.tenant)
        let found =
            tree
            ? try await engine.cancelTree(RunID(id), actor: principal.actor) != nil
            : try await engine.cancel(RunID(id), actor: principal.actor) != nil
        guard found else { throw Problem.notFound("run \(id)") }
    }

    /// Retries the tenant's failed or cancelled run `id` from where it stopped as `principal`,
    /// also running again the tasks named in `from` (``Engine/retry(_:from:actor:leased:)``), and
    /// reports it as it is now. The run is left for the runners of its tenant (a Lambda deployment
    /// announces it); a 404 problem when the tenant has no such run, 422 when it has no task by a
    /// name in `from`, 409 `run-not-retryable` when it has not ended, or succeeded and nothing is
    /// named.
    func retryRun(_ id: String, from named: [String] = [], by principal: Principal) async throws -> JSONValue {
        let engine = runtime.engine(for: principal.tenant)
        let outcome: RunRetry.Outcome
        do {
            guard let found = try await engine.retry(RunID(id), from: named, actor: principal.actor) else {
                throw Problem.notFound("run \(id)")
            }
            outcome = found
        } catch let refusal as RunRetry.Refusal {
            if refusal.isInvalidRequest {
                throw Problem(.unprocessableContent, "validation-failed", refusal.description)
            }
            throw Problem(.conflict, "run-not-retryable", refusal.description)
        }
        // This node's cached report of the ended run goes at once; other nodes' when they see the event.
        runtime.endedRunsChanged.signal()
        runtime.finishedRuns.remove(ServerRuntime.reportKey(tenant: principal.tenant, run: id))
        if executor == nil { await announcer?.announce(outcome.run) }
        guard let report = try await engine.report(RunID(id)) else { throw Problem.notFound("run \(id)") }
        return report
    }

    /// An agent's lifecycle moves: the verb of each and the status it moves the agent to.
    static let agentMoves: [(verb: String, status: AgentStatus)] = [
        ("activate", .active), ("suspend", .suspended), ("retire", .retired),
    ]

    /// Moves the tenant's agent `idOrName` to `status` as `principal`; a 404 problem when the
    /// tenant has no such agent.
    func moveAgent(_ idOrName: String, to status: AgentStatus, by principal: Principal) async throws -> AgentRecord {
        let registry = AgentRegistry(store: store, kinds: runtime.engine.kinds, tenant: principal.tenant)
        guard let agent = try await registry.find(idOrName) else { throw Problem.notFound("agent \(idOrName)") }
        return try await registry.setStatus(agent.id.rawValue, to: status, actor: principal.actor)
    }

    /// The tenant's settlements, newest first, optionally only those in `status`.
    /// A page of settlements, newest first: `limit` of them older than `before` when given, and
    /// `next` (the `before` of the next page) when more follow.
    func settlements(status: SettlementStatus?, before: String? = nil, limit: Int, tenant: String) async throws
        -> JSONValue
    {
        let settlements = try await store.settlements(tenant: tenant, status: status, before: before, limit: limit + 1)
        var page: [String: JSONValue] = [
            "settlements": .array(settlements.prefix(limit).map(SettlementJSON.settlement))
        ]
        if settlements.count > limit, let last = settlements.prefix(limit).last { page["next"] = .string(last.id) }
        return .object(page)
    }
}

/// Told of each run the API creates and leaves, unleased, for another process to execute: the
/// `api` Lambda function announces it on the work queue, so the `queue` function executes it
/// at once instead of at the next scheduled slot.
public protocol RunAnnouncer: Sendable {
    /// Called once the run is committed. A failure is the announcer's to log: the run stays
    /// unfinished and unleased, for the next claim of its tenant's runs.
    func announce(_ run: RunRecord) async
}
