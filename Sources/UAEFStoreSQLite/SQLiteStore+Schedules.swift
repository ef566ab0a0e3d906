import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func saveSchedules(_ schedules: [ScheduleRecord], events: [EventDraft]) async throws {
        try await pool.write { db in
            for schedule in schedules {
                try db.execute(
                    sql: """
                        INSERT INTO schedules (tenant, name, definition, paused, note, next_at, last_slot, last_run,
                            last_error, buffered, revision, claimed_by, claimed_until, created_at, updated_at,
                            updated_by)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)
                        ON CONFLICT (tenant, name) DO UPDATE SET definition = excluded.definition,
                            paused = excluded.paused, note = excluded.note, next_at = excluded.next_at,
                            last_slot = excluded.last_slot, last_run = excluded.last_run,
                            last_error = excluded.last_error, buffered = excluded.buffered,
                            revision = excluded.revision, claimed_by = NULL,
                            claimed_until = NULL, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                        """,
                    arguments: Self.arguments(schedule))
            }
            try Self.appendEvents(events, in: db)
        }
    }

    public func replaceSchedule(_ schedule: ScheduleRecord, expectedRevision: Int64, events: [EventDraft])
        async throws -> Bool
    {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE schedules SET definition = ?, paused = ?, note = ?, next_at = ?, last_slot = ?,
                        last_run = ?, last_error = ?, buffered = ?, revision = ?, claimed_by = NULL,
                        claimed_until = NULL, updated_at = ?, updated_by = ?
                    WHERE tenant = ? AND name = ? AND revision = ?
                    """,
                arguments: [
                    JSONValue.object(schedule.definition).jsonText, schedule.paused, schedule.note,
                    schedule.nextAt.map(Timestamp.milliseconds), schedule.lastSlot.map(Timestamp.milliseconds),
                    schedule.lastRun?.rawValue, schedule.lastError, schedule.buffered, schedule.revision,
                    Timestamp.milliseconds(schedule.updatedAt), schedule.updatedBy, schedule.tenant, schedule.name,
                    expectedRevision,
                ])
            guard db.changesCount > 0 else { return false }
            try Self.appendEvents(events, in: db)
            return true
        }
    }

    public func schedule(named name: String, tenant: String) async throws -> ScheduleRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM schedules WHERE tenant = ? AND name = ?", arguments: [tenant, name]
            ).map(Self.schedule)
        }
    }

    public func schedules(tenant: String) async throws -> [ScheduleRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM schedules WHERE tenant = ? ORDER BY name", arguments: [tenant])
                .map(Self.schedule)
        }
    }

    public func deleteSchedule(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            guard db.changesCount > 0 else { return false }
            try Self.appendEvents([event], in: db)
            return true
        }
    }

    public func claimDueSchedules(now: Date, owner: String, until: Date, limit: Int) async throws -> [ScheduleRecord] {
        let now = Timestamp.milliseconds(now)
        return try await pool.write { db in
            try Row.fetchAll(
                db,
                sql: """
                    UPDATE schedules SET claimed_by = ?, claimed_until = ?
                    WHERE (tenant, name) IN (
                        SELECT tenant, name FROM schedules
                        WHERE paused = 0 AND next_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
                            AND \(Self.notWaitingForLastRun)
                        ORDER BY next_at LIMIT ?)
                    RETURNING *
                    """,
                arguments: [owner, Timestamp.milliseconds(until), now, now, limit]
            ).map(Self.schedule).sorted { ($0.nextAt ?? .distantFuture) < ($1.nextAt ?? .distantFuture) }
        }
    }

    public func earliestScheduleSlot() async throws -> Date? {
        try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT min(next_at) FROM schedules WHERE paused = 0 AND \(Self.notWaitingForLastRun)"
            ).map(Timestamp.date(milliseconds:))
        }
    }

    /// A schedule's condition: its next slot is not one held for a last run that has not ended.
    private static let notWaitingForLastRun = """
        (buffered = 0 OR NOT EXISTS (
            SELECT 1 FROM runs WHERE runs.id = schedules.last_run AND runs.tenant = schedules.tenant
                AND runs.status IN ('pending', 'running')))
        """

    /// Writes a firing's state, or throws ``ScheduleClaimLost`` when its claim was lost.
    static func apply(_ firing: ScheduleFiringRecord, in db: Database) throws {
        let schedule = firing.schedule
        try db.cachedStatement(
            sql: """
                UPDATE schedules SET next_at = ?, last_slot = ?, last_run = ?, last_error = ?, buffered = ?,
                    claimed_by = NULL, claimed_until = NULL
                WHERE tenant = ? AND name = ? AND revision = ? AND claimed_by = ?
                """
        ).execute(arguments: [
            schedule.nextAt.map(Timestamp.milliseconds), schedule.lastSlot.map(Timestamp.milliseconds),
            schedule.lastRun?.rawValue, schedule.lastError, schedule.buffered, schedule.tenant, schedule.name,
            schedule.revision,
            firing.owner,
        ])
        guard db.changesCount == 1 else { throw ScheduleClaimLost(tenant: schedule.tenant, name: schedule.name) }
    }

    private static func arguments(_ schedule: ScheduleRecord) -> StatementArguments {
        [
            schedule.tenant, schedule.name, JSONValue.object(schedule.definition).jsonText, schedule.paused,
            schedule.note, schedule.nextAt.map(Timestamp.milliseconds), schedule.lastSlot.map(Timestamp.milliseconds),
            schedule.lastRun?.rawValue, schedule.lastError, schedule.buffered, schedule.revision,
            Timestamp.milliseconds(schedule.createdAt),
            Timestamp.milliseconds(schedule.updatedAt), schedule.updatedBy,
        ]
    }

    static func schedule(_ row: Row) throws -> ScheduleRecord {
        let name: String = row["name"]
        let text: String = row["definition"]
        guard case .object(let definition) = try JSONValue(jsonText: text) else {
            throw StoreCorruption(location: "schedules.definition", reason: "schedule \(name): not a JSON object")
        }
        let lastRun: String? = row["last_run"]
        let nextAt: Int64? = row["next_at"]
        let lastSlot: Int64? = row["last_slot"]
        return ScheduleRecord(
            tenant: row["tenant"], name: name, definition: definition, paused: row["paused"], note: row["note"],
            nextAt: nextAt.map(Timestamp.date(milliseconds:)), lastSlot: lastSlot.map(Timestamp.date(milliseconds:)),
            lastRun: lastRun.map(RunID.init), lastError: row["last_error"], buffered: row["buffered"],
            revision: row["revision"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]), updatedBy: row["updated_by"])
    }
}
