import Foundation
import Logging
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func saveSchedules(_ schedules: [ScheduleRecord], events: [EventDraft]) async throws {
        try await transaction { connection in
            for schedule in schedules {
                try await connection.query(
                    """
                    INSERT INTO schedules (tenant, name, definition, paused, note, next_at, last_slot, last_run,
                        last_error, buffered, revision, claimed_by, claimed_until, created_at, updated_at, updated_by)
                    VALUES (\(schedule.tenant), \(schedule.name), \(JSONValue.object(schedule.definition).jsonText),
                        \(schedule.paused), \(schedule.note), \(schedule.nextAt.map(Timestamp.milliseconds)),
                        \(schedule.lastSlot.map(Timestamp.milliseconds)), \(schedule.lastRun?.rawValue),
                        \(schedule.lastError), \(schedule.buffered), \(schedule.revision), NULL, NULL,
                        \(Timestamp.milliseconds(schedule.createdAt)), \(Timestamp.milliseconds(schedule.updatedAt)),
                        \(schedule.updatedBy))
                    ON CONFLICT (tenant, name) DO UPDATE SET definition = excluded.definition,
                        paused = excluded.paused, note = excluded.note, next_at = excluded.next_at,
                        last_slot = excluded.last_slot, last_run = excluded.last_run, last_error = excluded.last_error,
                        buffered = excluded.buffered, revision = excluded.revision, claimed_by = NULL, claimed_until = NULL,
                        updated_at = excluded.updated_at, updated_by = excluded.updated_by
                    """, logger: logger)
            }
            try await PostgresLedger.append(events, on: connection, logger: logger)
        }
    }

    public func replaceSchedule(_ schedule: ScheduleRecord, expectedRevision: Int64, events: [EventDraft])
        async throws -> Bool
    {
        try await transaction { connection in
            let updated = try await connection.query(
                """
                UPDATE schedules SET definition = \(JSONValue.object(schedule.definition).jsonText),
                    paused = \(schedule.paused), note = \(schedule.note),
                    next_at = \(schedule.nextAt.map(Timestamp.milliseconds)),
                    last_slot = \(schedule.lastSlot.map(Timestamp.milliseconds)), last_run = \(schedule.lastRun?.rawValue),
                    last_error = \(schedule.lastError), buffered = \(schedule.buffered),
                    revision = \(schedule.revision), claimed_by = NULL, claimed_until = NULL, updated_at = \(Timestamp.milliseconds(schedule.updatedAt)),
                    updated_by = \(schedule.updatedBy)
                WHERE tenant = \(schedule.tenant) AND name = \(schedule.name) AND revision = \(expectedRevision)
                RETURNING 1
                """, logger: logger
            ).collect()
            guard !updated.isEmpty else { return false }
            try await PostgresLedger.append(events, on: connection, logger: logger)
            return true
        }
    }

    public func schedule(named name: String, tenant: String) async throws -> ScheduleRecord? {
        try await rows("SELECT * FROM schedules WHERE tenant = \(tenant) AND name = \(name)", Self.schedule).first
    }

    public func schedules(tenant: String) async throws -> [ScheduleRecord] {
        try await rows("SELECT * FROM schedules WHERE tenant = \(tenant) ORDER BY name", Self.schedule)
    }

    public func deleteSchedule(named name: String, tenant: String, event: EventDraft) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await connection.query(
                "DELETE FROM schedules WHERE tenant = \(tenant) AND name = \(name) RETURNING 1", logger: logger
            ).collect()
            guard !deleted.isEmpty else { return false }
            try await PostgresLedger.append([event], on: connection, logger: logger)
            return true
        }
    }

    public func claimDueSchedules(now: Date, owner: String, until: Date, limit: Int) async throws -> [ScheduleRecord] {
        let now = Timestamp.milliseconds(now)
        return try await transaction { connection in
            try await rows(
                on: connection,
                """
                UPDATE schedules SET claimed_by = \(owner), claimed_until = \(Timestamp.milliseconds(until))
                WHERE (tenant, name) IN (
                    SELECT tenant, name FROM schedules
                    WHERE NOT paused AND next_at <= \(now) AND (claimed_until IS NULL OR claimed_until < \(now))
                        AND \(unescaped: Self.notWaitingForLastRun)
                    ORDER BY next_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, Self.schedule)
        }.sorted { ($0.nextAt ?? .distantFuture) < ($1.nextAt ?? .distantFuture) }
    }

    /// Writes a firing's state, or throws ``ScheduleClaimLost`` when its claim was lost.
    static func apply(_ firing: ScheduleFiringRecord, on connection: PostgresConnection, logger: Logger) async throws {
        let schedule = firing.schedule
        let updated = try await connection.query(
            """
            UPDATE schedules SET next_at = \(schedule.nextAt.map(Timestamp.milliseconds)),
                last_slot = \(schedule.lastSlot.map(Timestamp.milliseconds)), last_run = \(schedule.lastRun?.rawValue),
                last_error = \(schedule.lastError), buffered = \(schedule.buffered), claimed_by = NULL,
                claimed_until = NULL
            WHERE tenant = \(schedule.tenant) AND name = \(schedule.name) AND revision = \(schedule.revision)
                AND claimed_by = \(firing.owner)
            RETURNING 1
            """, logger: logger
        ).collect()
        guard updated.count == 1 else { throw ScheduleClaimLost(tenant: schedule.tenant, name: schedule.name) }
    }

    public func earliestScheduleSlot() async throws -> Date? {
        try await rows(
            "SELECT min(next_at) FROM schedules WHERE NOT paused AND \(unescaped: Self.notWaitingForLastRun)"
        ) {
            try $0.decode(Int64?.self).map(Timestamp.date(milliseconds:))
        }.first ?? nil
    }

    /// A schedule's condition: its next slot is not one held for a last run that has not ended.
    private static let notWaitingForLastRun = """
        (NOT buffered OR NOT EXISTS (
            SELECT 1 FROM runs WHERE runs.id = schedules.last_run AND runs.tenant = schedules.tenant
                AND runs.status IN ('pending', 'running')))
        """

    static func schedule(_ row: PostgresRow) throws -> ScheduleRecord {
        let c = Columns(row, table: "schedules")
        let name: String = try c("name")
        guard case .object(let definition)? = try c.json("definition") else {
            throw StoreCorruption(location: "schedules.definition", reason: "schedule \(name): not a JSON object")
        }
        return ScheduleRecord(
            tenant: try c("tenant"), name: name, definition: definition, paused: try c("paused"), note: try c("note"),
            nextAt: try c.optionalDate("next_at"), lastSlot: try c.optionalDate("last_slot"),
            lastRun: try c("last_run", as: String?.self).map(RunID.init), lastError: try c("last_error"),
            buffered: try c("buffered"), revision: try c("revision"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"),
            updatedBy: try c("updated_by"))
    }
}
