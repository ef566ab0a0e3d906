import Foundation
import UAEFCore
import UAEFEngine
import UAEFLedger
import UAEFStore

/// What one settlement pass did.
public struct SettlementReport: Sendable {
    /// Events read past the cursor.
    public var events = 0
    /// Settlements created, in event order.
    public var settlements: [SettlementRecord] = []
    /// Approvals that ran out of time.
    public var expired = 0
}

extension Engine {
    /// Validates a rules file and makes it the tenant's active rule set, creating the accounts
    /// it declares. An account that exists with another type or currency is refused, and then
    /// nothing is stored.
    public func loadRules(_ text: String, file: String, actor: String) async throws -> (version: Int, rules: RulesFile)
    {
        let rules = try RulesParser.parse(text, file: file)
        let tenant = tenant
        let version = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            for account in rules.accounts {
                if let existing = try transaction.account(account.id) {
                    guard existing.definition.kind == account.kind, existing.definition.currency == account.currency
                    else {
                        throw Refusal(
                            "\(file): account \(account.id) exists as \(existing.definition.kind.rawValue) in \(existing.definition.currency); an account's type and currency never change"
                        )
                    }
                    var updated = existing
                    updated.definition.limit = account.limit
                    try transaction.saveAccount(updated)
                } else {
                    try transaction.saveAccount(AccountRecord(tenant: tenant, definition: account))
                }
            }
            let version = try transaction.saveRuleSet(file: file, source: text)
            var steps = SettlementSteps(transaction, actor: actor)
            try transaction.append([
                steps.event(
                    "rules.loaded", subject: "rules/\(version)",
                    [
                        "file": .string(file), "version": .number(Number(version)),
                        "rules": .array(rules.rules.map { .string($0.id) }),
                        "accounts": .array(rules.accounts.map { .string($0.id) }),
                    ])
            ])
            return version
        }
        return (version, rules)
    }

    /// Settles every event since the last pass by the active rules file and by the
    /// `settlements:` section of each run's workflow: reads the log in order from a durable
    /// cursor, and commits each page's settlements, transfers, balances, events and the new cursor
    /// in one transaction, so a crash loses nothing and repeats nothing. Expired approvals are
    /// released first.
    public func settle(actor: String = "settlement") async throws -> SettlementReport {
        var report = SettlementReport()
        let global =
            try await store.activeRuleSet(tenant: tenant).map {
                try RulesParser.parse($0.source, file: $0.file).rules
            } ?? []
        let globalTypes = Set(global.map(\.on))
        let tenant = tenant
        report.expired = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            var steps = SettlementSteps(transaction, actor: actor)
            let expired = try steps.expireApprovals()
            try steps.commit()
            return expired
        }
        while true {
            let start = try await store.settle(tenant: tenant, now: configuration.clock()) { try $0.cursor() }
            let page = try await store.eventHeaders(from: start, limit: 2_000)
            guard let last = page.last else { break }
            // Read afresh for each page, after its events: what it knows of a run (a retry above
            // all) is never older than the events it settles.
            var facts = TriggerFacts(engine: self)
            // Most events match no rule: their data is read only when some event of the page may.
            var candidates: Set<Int64> = []
            for header in page where header.tenant == tenant && TriggerFacts.canTrigger(header.type) {
                let workflowTypes = try await facts.workflowRuleTypes(type: header.type, subject: header.subject)
                if globalTypes.contains(header.type) || workflowTypes.contains(header.type) {
                    candidates.insert(header.seq)
                }
            }
            var triggers: [Trigger] = []
            if !candidates.isEmpty {
                // Only this tenant's rows are read: another tenant's events never stop its settlement.
                for record in try await store.events(in: start..<(last.seq + 1), tenant: tenant)
                where candidates.contains(record.seq) {
                    var trigger = try await facts.trigger(for: record)
                    trigger.rules = (global + trigger.rules).filter { $0.on == record.event.type }
                    if !trigger.rules.isEmpty { triggers.append(trigger) }
                }
            }
            let pageTriggers = triggers
            let evaluations = await Self.evaluate(pageTriggers)
            let created = try await store.settle(tenant: tenant, now: configuration.clock()) {
                transaction -> [SettlementRecord]? in
                // Another process settled this page first: read on from where it left off.
                guard try transaction.cursor() == start else { return nil }
                var steps = SettlementSteps(transaction, actor: actor)
                var created: [SettlementRecord] = []
                for (item, results) in zip(pageTriggers, evaluations) {
                    steps.declared = item.accounts
                    for (rule, evaluation) in zip(item.rules, results) {
                        if let settlement = try steps.apply(
                            rule, evaluation, seq: item.seq, maker: item.maker, retrier: item.retrier)
                        {
                            created.append(settlement)
                        }
                    }
                }
                try transaction.setCursor(last.seq + 1)
                try steps.commit()
                return created
            }
            guard let created else { continue }
            report.events += page.count
            report.settlements += created
        }
        return report
    }

    /// Evaluates every trigger's rules outside the write transaction, on every core: the exact
    /// decimal arithmetic is most of a settlement's work.
    static func evaluate(_ triggers: [Trigger]) async -> [[Result<SettlementCalculation?, SettlementError>]] {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = max(1, (triggers.count + cores - 1) / cores)
        return await withTaskGroup(of: (Int, [[Result<SettlementCalculation?, SettlementError>]]).self) { group in
            for start in stride(from: 0, to: triggers.count, by: chunk) {
                let slice = triggers[start..<min(triggers.count, start + chunk)]
                group.addTask {
                    (start, slice.map { item in item.rules.map { SettlementSteps.evaluate($0, item.context) } })
                }
            }
            var results = [[Result<SettlementCalculation?, SettlementError>]](repeating: [], count: triggers.count)
            for await (start, part) in group {
                for (offset, value) in part.enumerated() { results[start + offset] = value }
            }
            return results
        }
    }

    /// Sends a custom signal (`signal.<name>` with `data`) that rules can settle, and settles it.
    /// A reused idempotency key returns the first signal's result; reused with other data, it
    /// is refused.
    public func signal(
        _ name: String, data: [String: JSONValue], idempotencyKey: String, actor: String
    ) async throws -> (seq: Int64, replayed: Bool, settlements: [SettlementRecord]) {
        // The data enters here from the API, the CLI and inbound webhooks alike.
        if let violation = ValueLimits.check(.object(data)) {
            throw ValidationFailure(issues: [
                ValidationIssue(file: "signal", line: nil, field: "data", message: violation.description)
            ])
        }
        let digest = ContentDigest.sha256(CanonicalJSON.bytes(["name": .string(name), "data": .object(data)]))
        let tenant = tenant
        let first = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            if let first = try transaction.signal(idempotencyKey: idempotencyKey) {
                guard first.name == name, first.sha256 == digest else {
                    throw Refusal(
                        "idempotency key \(idempotencyKey) was first used for another signal (event \(first.seq)); use a new key for new data"
                    )
                }
                return Optional(first.seq)
            }
            var steps = SettlementSteps(transaction, actor: actor)
            var event = steps.event(
                "signal.\(name)", subject: "signal/\(name)", ["idempotency_key": .string(idempotencyKey)])
            event.payloads = ["data": .object(data)]
            try transaction.appendSignal(event, idempotencyKey: idempotencyKey, name: name, sha256: digest)
            return nil
        }
        let replayed = first != nil
        if !replayed { _ = try await settle() }
        // The seq of a new signal's event is given as it commits: read it back.
        var seq = first ?? 0
        if first == nil {
            seq = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
                guard let stored = try transaction.signal(idempotencyKey: idempotencyKey) else {
                    throw StoreCorruption(location: "signals", reason: "signal \(idempotencyKey) was not recorded")
                }
                return stored.seq
            }
        }
        return (seq, replayed, try await store.settlements(tenant: tenant, triggerSeq: seq))
    }

    /// Corrects a posted settlement by reversing entries (its transfers booked back, nothing
    /// edited) and voids it, recording who and why.
    public func reverse(_ id: String, reason: String, actor: String) async throws -> SettlementRecord {
        let outcome = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            var steps = SettlementSteps(transaction, actor: actor)
            let outcome = try steps.reverse(id, reason: reason)
            try steps.commit()
            return outcome
        }
        return try outcome.get()
    }

    /// Records a principal's decision on a settlement waiting for approval. Approval needs the
    /// rule's number of distinct principals with its role, none of them the settlement's maker;
    /// one rejection rejects it. Once enough approve, its reserved transfers are posted.
    public func decide(
        _ id: String, _ decision: ApprovalRecord.Decision, principal: String, role: String, reason: String?
    ) async throws -> SettlementRecord {
        let outcome = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            var steps = SettlementSteps(transaction, actor: principal)
            let outcome = try steps.decide(id, decision, principal: principal, role: role, reason: reason)
            try steps.commit()
            return outcome
        }
        return try outcome.get()
    }
}

/// One event that rules may settle, with what they see and which rules may apply.
struct Trigger: Sendable {
    var seq: Int64
    var context: RuleTrigger
    /// The principal behind it, whom approvals exclude.
    var maker: String
    /// Who retried its run last, when not the maker: excluded from approving it too.
    var retrier: String? = nil
    /// The rules that may apply: the workflow's own, then (added by the caller) the rules file's.
    var rules: [SettlementRule]
    /// Accounts the workflow's `settlements:` section declares, created on first use.
    var accounts: [AccountDefinition]
}

/// What settlement reads from a workflow source (its tasks' capabilities and its `settlements:`
/// rules), parsed once per distinct source and shared by every engine of the process.
private let workflowFacts = BoundedCache<(capabilities: [String: String], rules: RulesFile?)>(capacity: 1_000)

/// What rules see about each triggering event, read once per run.
private struct TriggerFacts {
    /// Per run: its snapshot, each task's capability, and its workflow's settlement rules.
    struct RunFacts {
        var snapshot: RunSnapshot
        var capabilities: [String: String]
        var rules: RulesFile?
    }

    let engine: Engine
    var runs: [RunID: RunFacts] = [:]
    /// Per run: its `run.retried` events (seq, actor), read when an event from before its latest
    /// retry is settled.
    var retriesByRun: [RunID: [(seq: Int64, actor: String)]] = [:]

    init(engine: Engine) { self.engine = engine }

    /// Whether an event of this type can trigger a rule at all.
    static func canTrigger(_ type: String) -> Bool {
        ["task.succeeded", "task.failed", "run.succeeded", "run.failed"].contains(type) || type.hasPrefix("signal.")
    }

    /// The event types the `settlements:` section of an event's workflow settles on.
    mutating func workflowRuleTypes(type: String, subject: String) async throws -> Set<String> {
        guard type.hasPrefix("task.") || type.hasPrefix("run.") else { return [] }
        let run = RunID(String(subject.prefix { $0 != "/" }))
        return Set(try await self.run(run)?.rules?.rules.map(\.on) ?? [])
    }

    /// The rule context of an event (see ``RuleTrigger``), its maker and its workflow's rules.
    mutating func trigger(for record: EventRecord) async throws -> Trigger {
        let event = record.event
        // A signal's data travels as a payload (it may be personal data); rules read it as event.data.
        let data = event.type.hasPrefix("signal.") ? event.payloads["data"] ?? .object(event.data) : .object(event.data)
        var context: [String: JSONValue] = [
            "event": [
                "seq": .number(Number(Int(record.seq))), "type": .string(event.type), "subject": .string(event.subject),
                "actor": .string(event.actor), "time": .string(Timestamp.format(event.time)), "data": data,
            ]
        ]
        var trigger = Trigger(
            seq: record.seq, context: RuleTrigger(context: context), maker: event.actor, rules: [], accounts: [])
        guard event.type.hasPrefix("task.") || event.type.hasPrefix("run.") else { return trigger }
        let parts = event.subject.split(separator: "/", maxSplits: 1).map(String.init)
        guard let facts = try await run(RunID(parts[0])) else { return trigger }
        let run = facts.snapshot.run
        context["run"] = ["id": .string(run.id.rawValue), "workflow": .string(run.workflowName)]
        context["inputs"] = .object(run.inputs)
        if parts.count == 2, let task = facts.snapshot.tasks.first(where: { $0.key == parts[1] }) {
            context["task"] = [
                "id": .string(task.taskID), "key": .string(task.key),
                "capability": facts.capabilities[task.taskID].map(JSONValue.string) ?? .null,
                "agent": task.agentID.map { .string($0.rawValue) } ?? .null, "attempt": event.data["attempt"] ?? .null,
            ]
            context["output"] = event.payloads["output"] ?? task.output ?? .null
        }
        trigger.context = RuleTrigger(context: context)
        trigger.maker = run.createdBy ?? event.actor
        trigger.retrier = try await retrier(of: run, before: record).flatMap { $0 == trigger.maker ? nil : $0 }
        trigger.rules = facts.rules?.rules ?? []
        trigger.accounts = facts.rules?.accounts ?? []
        return trigger
    }

    /// Who had retried `run` (or, for a child never retried, the run above it) when `record` was
    /// appended: the run's latest retrier for an event of its latest go; for an event of an
    /// earlier go (settlement running behind a retry, which is rare) the actor of the last
    /// `run.retried` before it.
    private mutating func retrier(of run: RunRecord, before record: EventRecord) async throws -> String? {
        guard let retriedAt = run.retriedAt, record.event.time < retriedAt else { return run.retriedBy }
        return try await retries(of: run.id).last { $0.seq < record.seq }?.actor
    }

    /// The `run.retried` events of run `id` in order, read once per page: a page may settle
    /// thousands of one run's events. One appended after the read comes after every event the
    /// page settles, which were in the store before it.
    private mutating func retries(of id: RunID) async throws -> [(seq: Int64, actor: String)] {
        if let known = retriesByRun[id] { return known }
        var retries: [(seq: Int64, actor: String)] = []
        var from: Int64 = 0
        while true {
            let page = try await engine.store.runEvents(of: id, tenant: engine.tenant, from: from, limit: 1_000)
            retries += page.filter { $0.event.type == "run.retried" }.map { ($0.seq, $0.event.actor) }
            guard page.count == 1_000, let end = page.last else { break }
            from = end.seq + 1
        }
        retriesByRun[id] = retries
        return retries
    }

    private mutating func run(_ id: RunID) async throws -> RunFacts? {
        if let known = runs[id] { return known }
        guard let snapshot = try await engine.store.snapshot(of: id, tenant: engine.tenant) else { return nil }
        let run = snapshot.run
        let parsed = workflowFacts.value(for: run.workflowName + "\u{0}" + run.workflowSource) {
            var capabilities: [String: String] = [:]
            var rules: RulesFile?
            // One parse of the stored workflow gives its tasks' capabilities and its settlement rules.
            if case .success(let root) = YAMLSource.parse(run.workflowSource, file: run.workflowFile) {
                if let definition = try? WorkflowParser.parse(
                    root, source: run.workflowSource, file: run.workflowFile,
                    catalog: engine.kinds.catalog(capabilities: nil))
                {
                    for task in definition.tasks {
                        if case .capability(let capability) = task.executor { capabilities[task.id] = capability }
                    }
                }
                // Validated when the run started; named `<workflow>/<rule>` so they never collide
                // with a rules file's.
                if var section = try? RulesParser.parseSection(of: root, file: run.workflowFile) {
                    for index in section.rules.indices {
                        section.rules[index].id = "\(run.workflowName)/\(section.rules[index].id)"
                    }
                    rules = section
                }
            }
            return (capabilities, rules)
        }
        let (capabilities, rules) = parsed
        let facts = RunFacts(snapshot: snapshot, capabilities: capabilities, rules: rules)
        runs[id] = facts
        return facts
    }
}

/// The `settlements:` section of workflow files: rules in the shape of a rules file that settle
/// the workflow's own runs. Give it to every ``Engine`` whose workflows may carry one.
public struct SettlementSection: WorkflowSection {
    public init() {}

    public var key: String { "settlements" }

    public func problems(in root: YAMLSource, file: String) -> [ValidationIssue] {
        do {
            _ = try RulesParser.parseSection(of: root, file: file)
            return []
        } catch { return error.issues }
    }
}
