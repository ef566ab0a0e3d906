import Foundation
import UAEFCore

/// A tenant's schedule as stored: its definition (as validated when it was saved) and where its
/// firing stands.
public struct ScheduleRecord: Sendable, Hashable {
    public var tenant: String
    public var name: String
    /// The definition's JSON form, as validated when the schedule was saved.
    public var definition: [String: JSONValue]
    /// A paused schedule starts nothing until resumed.
    public var paused: Bool
    /// Why it was paused, as its pauser said.
    public var note: String?
    /// The next slot to act on; nil when its times have no more slots.
    public var nextAt: Date?
    /// The last slot acted on (fired, skipped or failed).
    public var lastSlot: Date?
    /// The run its last fired slot started.
    public var lastRun: RunID?
    /// Why its last slot started no run, when it did not; cleared by the next run started.
    public var lastError: String?
    /// True when `nextAt` is a slot held until `lastRun` ends (overlap `buffer_one` or
    /// `buffer_all`): the schedule is not due before that, however long ago the slot was.
    public var buffered: Bool
    /// Bumped by every save, pause and resume, so that a firing that began before one of them
    /// does not overwrite it.
    public var revision: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var updatedBy: String

    public init(
        tenant: String, name: String, definition: [String: JSONValue], paused: Bool = false, note: String? = nil,
        nextAt: Date?, lastSlot: Date? = nil, lastRun: RunID? = nil, lastError: String? = nil, buffered: Bool = false,
        revision: Int64 = 1, createdAt: Date, updatedAt: Date, updatedBy: String
    ) {
        self.tenant = tenant
        self.name = name
        self.definition = definition
        self.paused = paused
        self.note = note
        self.nextAt = nextAt
        self.lastSlot = lastSlot
        self.lastRun = lastRun
        self.lastError = lastError
        self.buffered = buffered
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// Schedules, part of every ``WorkflowStore``. Every change appends its events in the same
/// transaction. A process fires a due schedule only while it holds the schedule's claim, so two
/// servers on one database never act on the same slot at once.
public protocol ScheduleStore: Sendable {
    /// Inserts or replaces each schedule (by tenant and name; a replaced one keeps its
    /// `createdAt`), releases any claim on it, and appends `events`, in one transaction.
    func saveSchedules(_ schedules: [ScheduleRecord], events: [EventDraft]) async throws

    /// Replaces a schedule only if its stored revision is still `expectedRevision` (a pause or a
    /// resume read beforehand), releasing any claim and appending `events`; false (nothing
    /// written) when it changed or is gone.
    func replaceSchedule(_ schedule: ScheduleRecord, expectedRevision: Int64, events: [EventDraft]) async throws
        -> Bool

    /// The schedule, or nil.
    func schedule(named name: String, tenant: String) async throws -> ScheduleRecord?

    /// The tenant's schedules, by name.
    func schedules(tenant: String) async throws -> [ScheduleRecord]

    /// Removes a schedule and appends `event`; false (and no event) when there was none.
    func deleteSchedule(named name: String, tenant: String, event: EventDraft) async throws -> Bool

    /// Claims for `owner` until `until` the due schedules of any tenant (unpaused, whose next
    /// slot is at or before `now` and, when that slot is ``ScheduleRecord/buffered``, whose last
    /// run has ended) that no other process holds (or whose claim has ended), earliest slot
    /// first, at most `limit`; returns them as claimed.
    func claimDueSchedules(now: Date, owner: String, until: Date, limit: Int) async throws -> [ScheduleRecord]

    /// The earliest next slot of any unpaused schedule of any tenant, leaving out buffered slots
    /// whose last run has not ended, or nil.
    func earliestScheduleSlot() async throws -> Date?
}

/// A schedule's state after a firing (its `nextAt`, `lastSlot`, `lastRun`, `lastError` and
/// `buffered`), in a ``ChangeSet``: written, and its claim released, only while `owner` holds the
/// claim on the schedule's revision; otherwise the commit of its change set fails with
/// ``ScheduleClaimLost``.
public struct ScheduleFiringRecord: Sendable, Hashable {
    public var schedule: ScheduleRecord
    public var owner: String

    public init(schedule: ScheduleRecord, owner: String) {
        self.schedule = schedule
        self.owner = owner
    }
}

/// A firing's claim was lost (another process took it over after it ended, or the schedule was
/// saved, paused or resumed meanwhile): nothing of its change set was written.
public struct ScheduleClaimLost: Error, Sendable, Equatable, CustomStringConvertible {
    public var tenant: String
    public var name: String

    public init(tenant: String, name: String) {
        self.tenant = tenant
        self.name = name
    }

    public var description: String { "schedule \(name) of tenant \(tenant) changed or was claimed by another process" }
}

extension WorkflowStore {
    /// Records what a firing did: the schedule's `nextAt`, `lastSlot`, `lastRun`, `lastError` and
    /// `buffered` as given, its claim released, and `events` appended, only while `owner` still
    /// holds the claim on the revision it fired; false (nothing written) otherwise. Written with
    /// other commits (group commit on SQLite).
    public func recordFiring(_ schedule: ScheduleRecord, owner: String, events: [EventDraft]) async throws -> Bool {
        var changes = ChangeSet()
        changes.scheduleFirings = [ScheduleFiringRecord(schedule: schedule, owner: owner)]
        changes.events = events
        do {
            try await commit(changes)
            return true
        } catch is ScheduleClaimLost {
            return false
        }
    }
}
