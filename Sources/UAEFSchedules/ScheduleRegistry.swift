import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// A tenant's schedules: applied from a `schedules:` file, listed, paused, resumed, triggered and
/// removed. Every change is a ledger event with the schedule as its subject (`schedule/NAME`).
public struct ScheduleRegistry: Sendable {
    let engine: Engine

    /// The registry of `engine`'s tenant.
    public init(engine: Engine) { self.engine = engine }

    var store: any WorkflowStore { engine.store }
    var tenant: String { engine.tenant }

    /// Why a schedule operation was refused.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case unknownSchedule(String)
        /// It changed between reading and writing (another pause, resume or apply).
        case changedMeanwhile(String)
        /// A backfill's range cannot be backfilled: why, and what would do.
        case badRange(String)

        public var description: String {
            switch self {
            case .unknownSchedule(let name):
                "no schedule named '\(name)'; uaef schedules list shows the tenant's schedules"
            case .changedMeanwhile(let name): "schedule '\(name)' changed meanwhile; read it again and retry"
            case .badRange(let reason): reason
            }
        }
    }

    /// What applying a file did.
    public struct Applied: Sendable {
        /// The schedules written (new or changed).
        public var saved: [ScheduleRecord]
        /// The names of those the file left exactly as they were.
        public var unchanged: [String]
    }

    /// Validates a `schedules:` file completely (each schedule's workflow, version and inputs
    /// against the tenant's registered workflows), then saves the new and changed schedules in
    /// one transaction. A changed schedule keeps its pause and its last run; it keeps its next
    /// slot too unless its times changed, when the next slot is counted from now.
    public func apply(_ text: String, file: String, actor: String) async throws -> Applied {
        let definitions = try ScheduleParser.parse(text, file: file)
        var issues: [ValidationIssue] = []
        for (index, definition) in definitions.enumerated() {
            issues += await problems(of: definition, field: "schedules[\(index)]", file: file)
        }
        let existing = Dictionary(uniqueKeysWithValues: try await store.schedules(tenant: tenant).map { ($0.name, $0) })
        let total = Set(existing.keys).union(definitions.map(\.name)).count
        if total > ScheduleDefinition.maximumSchedules {
            issues.append(
                ValidationIssue(
                    file: file, line: nil, field: "schedules",
                    message:
                        "a tenant has at most \(ScheduleDefinition.maximumSchedules) schedules; with this file tenant \(tenant) would have \(total) (remove some with uaef schedules remove)"
                ))
        }
        guard issues.isEmpty else { throw ValidationFailure(issues: issues) }
        let now = Date()
        var random = SystemRandomNumberGenerator()
        var applied = Applied(saved: [], unchanged: [])
        var events: [EventDraft] = []
        for definition in definitions {
            let json = definition.json
            let before = existing[definition.name]
            if let before, before.definition == json {
                applied.unchanged.append(definition.name)
                continue
            }
            let sameTimes =
                before.flatMap { try? ScheduleDefinition(stored: $0.definition, name: $0.name) }?.times
                == definition.times
            var record = ScheduleRecord(
                tenant: tenant, name: definition.name, definition: json, nextAt: definition.times.next(after: now),
                createdAt: before?.createdAt ?? now, updatedAt: now, updatedBy: actor)
            if let before {
                record.paused = before.paused
                record.note = before.note
                record.lastSlot = before.lastSlot
                record.lastRun = before.lastRun
                record.revision = before.revision + 1
                if sameTimes, let next = before.nextAt {
                    record.nextAt = next
                    // A slot held for the last run stays held while the schedule still buffers.
                    record.buffered = before.buffered && definition.overlap.buffers
                }
            }
            applied.saved.append(record)
            events.append(
                ScheduleEvents.draft(
                    "schedule.saved", definition.name, tenant: tenant, actor: actor, now: now, random: &random,
                    data: ScheduleEvents.summary(definition)))
        }
        if !applied.saved.isEmpty { try await store.saveSchedules(applied.saved, events: events) }
        return applied
    }

    /// Why `definition` would start no run, as validation issues at `field`.
    private func problems(of definition: ScheduleDefinition, field: String, file: String) async -> [ValidationIssue] {
        var inputs = definition.inputs
        if let slotInput = definition.slotInput { inputs[slotInput] = .string(Timestamp.format(Date())) }
        do {
            _ = try await engine.check(
                Engine.RunRequest(
                    workflow: definition.workflow, version: definition.version, inputs: inputs, idempotencyKey: nil))
            return []
        } catch let failure as ValidationFailure {
            return failure.issues.map {
                ValidationIssue(file: file, line: nil, field: "\(field).inputs.\($0.field)", message: $0.message)
            }
        } catch {
            return [ValidationIssue(file: file, line: nil, field: "\(field).workflow", message: "\(error)")]
        }
    }

    /// The tenant's schedules, by name.
    public func list() async throws -> [ScheduleRecord] { try await store.schedules(tenant: tenant) }

    /// One schedule, or nil.
    public func schedule(_ name: String) async throws -> ScheduleRecord? {
        try await store.schedule(named: name, tenant: tenant)
    }

    /// Pauses a schedule (its slots pass without runs until resumed), with the pauser's note.
    public func pause(_ name: String, note: String?, actor: String) async throws -> ScheduleRecord {
        try await change(name, actor: actor, type: "schedule.paused", data: note.map { ["note": .string($0)] } ?? [:]) {
            record, _ in
            record.paused = true
            record.note = note
            // Resumed, it starts from its next slot after then: nothing stays held.
            record.buffered = false
        }
    }

    /// Resumes a paused schedule from its next slot after now: the slots that passed while it was
    /// paused start nothing.
    public func resume(_ name: String, actor: String) async throws -> ScheduleRecord {
        try await change(name, actor: actor, type: "schedule.resumed", data: [:]) { record, now in
            guard record.paused else { return }
            record.paused = false
            record.note = nil
            let definition = try ScheduleDefinition(stored: record.definition, name: record.name)
            record.nextAt = definition.times.next(after: now)
            record.buffered = false
        }
    }

    private func change(
        _ name: String, actor: String, type: String, data: [String: JSONValue],
        _ update: (inout ScheduleRecord, Date) throws -> Void
    ) async throws -> ScheduleRecord {
        guard let before = try await store.schedule(named: name, tenant: tenant) else {
            throw Refusal.unknownSchedule(name)
        }
        let now = Date()
        var random = SystemRandomNumberGenerator()
        var record = before
        try update(&record, now)
        record.revision += 1
        record.updatedAt = now
        record.updatedBy = actor
        let event = ScheduleEvents.draft(
            type, name, tenant: tenant, actor: actor, now: now, random: &random, data: data)
        guard try await store.replaceSchedule(record, expectedRevision: before.revision, events: [event]) else {
            throw Refusal.changedMeanwhile(name)
        }
        return record
    }

    /// Removes a schedule; false when there was none. Runs it started go on.
    public func remove(_ name: String, actor: String) async throws -> Bool {
        var random = SystemRandomNumberGenerator()
        return try await store.deleteSchedule(
            named: name, tenant: tenant,
            event: ScheduleEvents.draft(
                "schedule.removed", name, tenant: tenant, actor: actor, now: Date(), random: &random, data: [:]))
    }

    /// Starts the schedule's workflow now, as its next slot would (its inputs, the slot input set
    /// to now), whatever its pause and overlap; the schedule's own slots are unchanged. Records
    /// `schedule.triggered` with the run. With `leased` this process holds the run's lease and is
    /// expected to execute it.
    public func trigger(_ name: String, actor: String, leased: Bool) async throws -> Engine.RunStart {
        guard let record = try await store.schedule(named: name, tenant: tenant) else {
            throw Refusal.unknownSchedule(name)
        }
        let definition = try ScheduleDefinition(stored: record.definition, name: name)
        let now = Date()
        return try await engine.start(
            ScheduleFiring.request(definition, slot: now, key: nil), actor: actor, leased: leased,
            alongside: ScheduleEvents.withRun("schedule.triggered", name, tenant: tenant, actor: actor) { _ in [:] })
    }
}

extension ScheduleRegistry {
    /// The most slots one backfill starts.
    public static let maximumBackfillSlots = 1_000

    /// What a backfill did: each slot of its range, oldest first, with its run and whether this
    /// backfill started it (false: the slot had its run already, fired or backfilled before).
    public struct Backfill: Sendable {
        public var from: Date
        public var to: Date
        public var slots: [(slot: Date, run: RunID, created: Bool)]

        /// `{"from", "to", "slots": [{"slot", "run_id", "created"}], "created"}`, as the API and `--json` show it.
        public var json: JSONValue {
            [
                "from": .string(Timestamp.format(from)), "to": .string(Timestamp.format(to)),
                "slots": .array(
                    slots.map {
                        [
                            "slot": .string(Timestamp.format($0.slot)), "run_id": .string($0.run.rawValue),
                            "created": .bool($0.created),
                        ]
                    }),
                "created": .number(Number(slots.filter(\.created).count)),
            ]
        }
    }

    /// Starts a run for each slot of the schedule in `from...to` (both in the past), as the slot
    /// would have: its inputs, the slot input set to the slot, under the slot's own idempotency
    /// key, so a slot that already has its run (fired on time, or an earlier backfill) keeps it
    /// and starts no other. Paused or not; the schedule's own slots are unchanged. The runs all
    /// start (the overlap policy is for slots as they come); `started` is told of each new one.
    /// Each new run commits with a `schedule.backfilled` event naming its slot, so a backfill cut
    /// short by a crash leaves every run it made accounted for, and doing it again finishes it.
    public func backfill(
        _ name: String, from: Date, to: Date, actor: String, leased: Bool,
        started: @Sendable (Engine.RunStart) async -> Void
    ) async throws -> Backfill {
        guard let record = try await store.schedule(named: name, tenant: tenant) else {
            throw Refusal.unknownSchedule(name)
        }
        let definition = try ScheduleDefinition(stored: record.definition, name: name)
        guard from <= to else {
            throw Refusal.badRange("from (\(Timestamp.format(from))) is after to (\(Timestamp.format(to)))")
        }
        guard to <= Date() else {
            throw Refusal.badRange(
                "to (\(Timestamp.format(to))) is in the future; slots to come start on their own (trigger starts one now)"
            )
        }
        var slots: [Date] = []
        var slot = definition.times.next(after: from.addingTimeInterval(-0.001))
        while let current = slot, current <= to {
            if current >= from {
                guard slots.count < Self.maximumBackfillSlots else {
                    throw Refusal.badRange(
                        "\(Timestamp.format(from)) to \(Timestamp.format(to)) holds more than \(Self.maximumBackfillSlots) slots of \(name); backfill it in parts"
                    )
                }
                slots.append(current)
            }
            slot = definition.times.next(after: current)
        }
        guard !slots.isEmpty else {
            throw Refusal.badRange(
                "no slot of \(name) falls from \(Timestamp.format(from)) to \(Timestamp.format(to)); uaef schedules show \(name) gives its times"
            )
        }
        var backfill = Backfill(from: from, to: to, slots: [])
        for slot in slots {
            let key = ScheduleFiring.key(name, slot: slot)
            do {
                let start = try await engine.start(
                    ScheduleFiring.request(definition, slot: slot, key: key), actor: actor, leased: leased,
                    alongside: ScheduleEvents.withRun("schedule.backfilled", name, tenant: tenant, actor: actor) { _ in
                        ["slot": .string(Timestamp.format(slot))]
                    })
                if start.created { await started(start) }
                backfill.slots.append((slot, start.run, start.created))
            } catch RegistryError.idempotencyKeyReused {
                guard let earlier = try await ScheduleFiring.runOfChangedSlot(key: key, engine: engine) else {
                    throw Refusal.badRange("the key of slot \(Timestamp.format(slot)) names no run; try again")
                }
                backfill.slots.append((slot, earlier, false))
            }
        }
        return backfill
    }
}

/// The ledger events of schedules: subject `schedule/NAME`.
enum ScheduleEvents {
    static func draft(
        _ type: String, _ name: String, tenant: String, actor: String, now: Date,
        random: inout some RandomNumberGenerator, data: [String: JSONValue]
    ) -> EventDraft {
        EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type, actor: actor,
            tenant: tenant, subject: "schedule/\(name)", data: data)
    }

    /// The changes that commit with a run the schedule starts: one event of `type` whose data is
    /// `data` with the run's id as `run`.
    static func withRun(
        _ type: String, _ name: String, tenant: String, actor: String,
        data: @escaping @Sendable (RunID) -> [String: JSONValue]
    ) -> @Sendable (RunID) -> ChangeSet {
        { run in
            var random = SystemRandomNumberGenerator()
            var changes = ChangeSet()
            changes.events.append(
                draft(
                    type, name, tenant: tenant, actor: actor, now: Date(), random: &random,
                    data: data(run).merging(["run": .string(run.rawValue)]) { _, run in run }))
            return changes
        }
    }

    /// What a saved event says of a definition: its workflow and times, never its inputs.
    static func summary(_ definition: ScheduleDefinition) -> [String: JSONValue] {
        var data = definition.json
        data["inputs"] = nil
        data["name"] = nil
        return data
    }
}
