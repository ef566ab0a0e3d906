import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// Which of a due schedule's slots start runs now, and which passed too long ago.
struct SlotPlan {
    /// Slots older than the catch-up window: started nothing.
    var missed: (count: Int, first: Date, last: Date)?
    /// Slots to act on now, oldest first.
    var due: [Date] = []
    /// The slot to act on next time; nil when the times have no more.
    var next: Date?

    /// The most missed slots counted one by one; past it the plan jumps to the window's start.
    static let countedMisses = 10_000

    /// The plan at `now` for slots from `first` on: those before `now - window` missed, then at
    /// most `limit` due.
    init(times: ScheduleTimes, from first: Date, now: Date, window: Duration, limit: Int) {
        let windowStart = now.addingTimeInterval(-window.timeInterval)
        let late = Self.stretch(
            from: first, while: { $0 < windowStart }, resumingAfter: windowStart.addingTimeInterval(-0.001),
            times: times)
        if let firstMissed = late.first, let lastMissed = late.last { missed = (late.count, firstMissed, lastMissed) }
        var slot = late.next
        while let current = slot, current <= now, due.count < limit {
            due.append(current)
            slot = times.next(after: current)
        }
        next = slot
    }

    /// The stretch of slots from `start` on while `inside` holds: how many (counted up to
    /// ``countedMisses``, past which counting stops and the stretch ends at the first slot after
    /// `resume`), the first and last counted, and the first slot after the stretch.
    static func stretch(
        from start: Date?, while inside: (Date) -> Bool, resumingAfter resume: Date, times: ScheduleTimes
    ) -> (count: Int, first: Date?, last: Date?, next: Date?) {
        var (count, first, last, current) = (0, Date?.none, Date?.none, start)
        while let slot = current, inside(slot) {
            guard count < countedMisses else { return (count, first, last, times.next(after: resume)) }
            (count, first, last) = (count + 1, first ?? slot, slot)
            current = times.next(after: slot)
        }
        return (count, first, last, current)
    }
}

/// Acts on one claimed, due schedule: starts a run for each due slot (unless the last run is
/// still going and the schedule skips overlaps; with `cancel_other` that run is cancelled
/// first; with `buffer_one` and `buffer_all` the slot is held, as the schedule's next, until
/// that run ends), then records what it did and its next slot.
///
/// A slot's run is started under the idempotency key `schedule:NAME:SLOT`, so a slot acted on
/// again (after a crash between the run and the record, or by a second process whose claim
/// outlived the first's) finds its run instead of starting another: each slot starts one run.
///
/// The run is started on behalf of whoever last saved the schedule (its `updatedBy`): that
/// principal is the run's maker, so maker-checker refuses them the approvals its outcome needs,
/// as if they had started it themselves. The schedule's own events name `schedule:NAME`.
struct ScheduleFiring {
    let engine: Engine
    let owner: String
    let leased: Bool
    /// Told of each run started, to execute it or wake whoever will.
    let started: @Sendable (Engine.RunStart, Engine) async -> Void
    /// The most slots of one schedule acted on in one pass (catching up with `overlap: allow`).
    static let slotsPerPass = 50

    /// The request a slot makes.
    static func request(_ definition: ScheduleDefinition, slot: Date, key: String?) -> Engine.RunRequest {
        var inputs = definition.inputs
        if let slotInput = definition.slotInput { inputs[slotInput] = .string(Timestamp.format(slot)) }
        return Engine.RunRequest(
            workflow: definition.workflow, version: definition.version, inputs: inputs, idempotencyKey: key)
    }

    /// The idempotency key of a slot's run.
    static func key(_ name: String, slot: Date) -> String { "schedule:\(name):\(Timestamp.format(slot))" }

    /// Fires `record` (claimed by ``owner``) at `now`; false when its claim was lost meanwhile
    /// (another process acted, or the schedule changed), so nothing was recorded.
    func fire(_ record: ScheduleRecord, now: Date) async throws -> Bool {
        let actor = "schedule:\(record.name)"
        var random = SystemRandomNumberGenerator()
        var events: [EventDraft] = []
        func event(_ type: String, _ data: [String: JSONValue]) {
            events.append(
                ScheduleEvents.draft(
                    type, record.name, tenant: record.tenant, actor: actor, now: now, random: &random, data: data))
        }
        var updated = record
        let definition: ScheduleDefinition
        do {
            definition = try ScheduleDefinition(stored: record.definition, name: record.name)
        } catch {
            // Only a store written by something else holds a definition this build cannot read.
            updated.nextAt = nil
            updated.lastError = "its stored definition cannot be read: \(error)"
            event("schedule.failed", ["error": .string(updated.lastError!)])
            return try await engine.store.recordFiring(updated, owner: owner, events: events)
        }
        guard let first = record.nextAt else { return false }
        let plan = SlotPlan(
            times: definition.times, from: first, now: now, window: definition.catchupWindow, limit: Self.slotsPerPass)
        if let missed = plan.missed {
            event(
                "schedule.missed",
                [
                    "slots": .number(Number(missed.count)), "first": .string(Timestamp.format(missed.first)),
                    "last": .string(Timestamp.format(missed.last)),
                    "catchup_window": .string(DurationText.format(definition.catchupWindow)),
                ])
            updated.lastSlot = missed.last
        }
        // Consecutive slots skipped for one running run make one event.
        var skipped: (count: Int, first: Date, last: Date, running: RunID)?
        func recordSkipped() {
            guard let run = skipped else { return }
            event(
                "schedule.skipped",
                [
                    "slots": .number(Number(run.count)), "first": .string(Timestamp.format(run.first)),
                    "last": .string(Timestamp.format(run.last)), "running": .string(run.running.rawValue),
                ])
            skipped = nil
        }
        var (due, next) = (plan.due, plan.next)
        if definition.overlap == .bufferOne, record.buffered, let oldest = due.first {
            // The held slot's run starts now that the last run has ended, unless the held slot is
            // itself missed (older than the catch-up window); the slots that came while it was held
            // start nothing, however many came. Recorded as skipped when the held slot starts: its
            // last run may have been retried since the claim, and the slot held on.
            let startsHeld = oldest == record.nextAt
            let passed = SlotPlan.stretch(
                from: definition.times.next(after: oldest), while: { $0 <= now }, resumingAfter: now,
                times: definition.times)
            if let firstSkipped = startsHeld ? passed.first : oldest, let waitedFor = record.lastRun {
                skipped = (passed.count + (startsHeld ? 0 : 1), firstSkipped, passed.last ?? oldest, waitedFor)
            }
            if !startsHeld { updated.lastSlot = passed.last ?? oldest }
            (due, next) = (startsHeld ? [oldest] : [], passed.next)
        }
        if definition.overlap == .cancelOther, due.count > 1, let last = due.last {
            // The latest slot wins: starting the earlier ones only to cancel them would let each
            // do work for the moment its cancellation takes.
            event(
                "schedule.superseded",
                [
                    "slots": .number(Number(due.count - 1)), "first": .string(Timestamp.format(due[0])),
                    "last": .string(Timestamp.format(due[due.count - 2])), "by": .string(Timestamp.format(last)),
                ])
            due = [last]
        }
        // The slot held until the last run ends (`buffer_one`, `buffer_all`), if one is.
        var held: Date?
        for (index, slot) in due.enumerated() {
            if definition.overlap.buffers, let running = try await unfinished(updated.lastRun, tenant: record.tenant) {
                // Said once for a slot: a schedule already holding it (its last run retried
                // meanwhile, say) holds it on, and what came meanwhile is counted when it starts.
                if !(record.buffered && record.nextAt == slot) {
                    event(
                        "schedule.buffered",
                        ["slot": .string(Timestamp.format(slot)), "running": .string(running.rawValue)])
                }
                (held, skipped) = (slot, nil)
                break
            }
            updated.lastSlot = slot
            if definition.overlap == .skip, let running = try await unfinished(updated.lastRun, tenant: record.tenant) {
                skipped = ((skipped?.count ?? 0) + 1, skipped?.first ?? slot, slot, running)
                continue
            }
            recordSkipped()
            if definition.overlap == .cancelOther,
                let running = try await unfinished(updated.lastRun, tenant: record.tenant),
                (try? await engine.check(Self.request(definition, slot: slot, key: nil))) != nil
            {
                // Only when the slot's run can start (else the running one is left alone and the
                // refusal recorded below); a cancellation already asked for is not asked again.
                if try await engine.store.run(running, tenant: record.tenant)?.cancelRequested == false {
                    _ = try await engine.cancel(running, actor: actor)
                }
                event(
                    "schedule.overlap_cancelled",
                    ["slot": .string(Timestamp.format(slot)), "cancelled": .string(running.rawValue)])
            }
            // The last due slot's run commits with the schedule's new state and this pass's events:
            // one transaction, and no moment when the run stands without its record.
            var closing: (@Sendable (RunID) -> ChangeSet)?
            if index == due.count - 1 {
                var recorded = updated
                recorded.nextAt = next
                recorded.buffered = false
                recorded.lastError = nil
                let (earlier, owner, final) = (events, owner, recorded)
                closing = { run in
                    var state = final
                    state.lastRun = run
                    var changes = ChangeSet()
                    changes.scheduleFirings = [ScheduleFiringRecord(schedule: state, owner: owner)]
                    changes.events = earlier + [Self.fired(record, slot: slot, run: run, created: true, now: now)]
                    return changes
                }
            }
            switch try await start(definition, slot: slot, actor: record.updatedBy, closing: closing) {
            case .recorded: return true
            case .claimLost: return false
            case .started(let run, let created):
                updated.lastRun = run
                updated.lastError = nil
                events.append(Self.fired(record, slot: slot, run: run, created: created, now: now))
            case .refused(let reason):
                updated.lastError = reason
                event("schedule.failed", ["slot": .string(Timestamp.format(slot)), "error": .string(reason)])
            }
        }
        recordSkipped()
        updated.nextAt = held ?? next
        updated.buffered = held != nil
        return try await engine.store.recordFiring(updated, owner: owner, events: events)
    }

    /// The `schedule.fired` event of a slot.
    private static func fired(_ record: ScheduleRecord, slot: Date, run: RunID, created: Bool, now: Date) -> EventDraft
    {
        var random = SystemRandomNumberGenerator()
        return ScheduleEvents.draft(
            "schedule.fired", record.name, tenant: record.tenant, actor: "schedule:\(record.name)", now: now,
            random: &random,
            data: ["slot": .string(Timestamp.format(slot)), "run": .string(run.rawValue), "created": .bool(created)])
    }

    private enum Outcome {
        /// The slot's run was created with `closing`'s changes: the schedule's state is recorded.
        case recorded
        case started(RunID, created: Bool)
        /// The slot can never start its run as the schedule stands (its workflow removed, its
        /// inputs no longer declared): said, and the schedule goes on to its next slot.
        case refused(String)
        /// The claim ended before the run committed with `closing`'s changes: nothing was written.
        case claimLost
    }

    private func start(
        _ definition: ScheduleDefinition, slot: Date, actor: String, closing: (@Sendable (RunID) -> ChangeSet)?
    ) async throws -> Outcome {
        let key = Self.key(definition.name, slot: slot)
        do {
            let start = try await engine.start(
                Self.request(definition, slot: slot, key: key), actor: actor, leased: leased, alongside: closing)
            if start.created { await started(start, engine) }
            return start.created && closing != nil ? .recorded : .started(start.run, created: start.created)
        } catch is ScheduleClaimLost {
            return .claimLost
        } catch RegistryError.idempotencyKeyReused {
            guard let earlier = try await Self.runOfChangedSlot(key: key, engine: engine) else {
                return .refused("its slot's key is taken by no run")
            }
            return .started(earlier, created: false)
        } catch let error as RegistryError {
            return .refused(error.description)
        } catch let failure as ValidationFailure {
            return .refused(failure.issues.map(\.description).joined(separator: "; "))
        }
    }

    /// The run a slot started before the schedule changed (its key then asked for other inputs):
    /// that is the slot's run. Nil when the key names none.
    static func runOfChangedSlot(key: String, engine: Engine) async throws -> RunID? {
        try await engine.store.runRequest(key: key, tenant: engine.tenant)?.runID
    }

    /// The run, when it has not ended.
    private func unfinished(_ run: RunID?, tenant: String) async throws -> RunID? {
        guard let run, let record = try await engine.store.run(run, tenant: tenant) else { return nil }
        return record.status.isTerminal ? nil : run
    }
}
