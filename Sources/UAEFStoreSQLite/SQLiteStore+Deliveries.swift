import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func subscriptionCursor(tenant: String, connector: String) async throws -> SubscriptionCursor {
        // Read first: the cursor exists but once, and subscribers look at it all the time.
        let existing = try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM subscription_cursors WHERE tenant = ? AND connector = ?",
                arguments: [tenant, connector]
            ).map { row in
                SubscriptionCursor(
                    tenant: tenant, connector: connector, next: row["next_seq"], pausedReason: row["paused_reason"])
            }
        }
        if let existing { return existing }
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO subscription_cursors (tenant, connector, next_seq)
                    VALUES (?, ?, COALESCE(
                        (SELECT seq + 1 FROM events WHERE tenant = ? AND subject = ? AND type = 'connector.saved'
                         ORDER BY seq DESC LIMIT 1),
                        (SELECT COALESCE(MAX(seq) + 1, 0) FROM events)))
                    ON CONFLICT (tenant, connector) DO NOTHING
                    """, arguments: [tenant, connector, tenant, "connector/\(connector)"])
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM subscription_cursors WHERE tenant = ? AND connector = ?",
                arguments: [tenant, connector])!
            return SubscriptionCursor(
                tenant: tenant, connector: connector, next: row["next_seq"], pausedReason: row["paused_reason"])
        }
    }

    public func enqueueDeliveries(
        _ deliveries: [DeliveryRecord], tenant: String, connector: String, from: Int64, next: Int64
    ) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE subscription_cursors SET next_seq = ? WHERE tenant = ? AND connector = ? AND next_seq = ?",
                arguments: [next, tenant, connector, from])
            guard db.changesCount == 1 else { return false }
            // Compiled once, not once per delivery.
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO deliveries (tenant, connector, id, event_seq, event_type, status, attempts,
                        next_attempt_at, lease_until, last_status, last_error, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?)
                    ON CONFLICT (tenant, connector, id) DO NOTHING
                    """)
            for delivery in deliveries {
                try insert.execute(
                    arguments: [
                        delivery.tenant, delivery.connector, delivery.id, delivery.eventSeq, delivery.eventType,
                        delivery.status.rawValue, delivery.attempts,
                        delivery.nextAttemptAt.map(Timestamp.milliseconds), Timestamp.milliseconds(delivery.createdAt),
                        Timestamp.milliseconds(delivery.updatedAt),
                    ])
            }
            return true
        }
    }

    public func claimDeliveries(tenant: String, connector: String, now: Date, leaseUntil: Date, limit: Int)
        async throws -> [DeliveryRecord]
    {
        let now = Timestamp.milliseconds(now)
        return try await pool.write { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE deliveries SET lease_until = ?
                        WHERE rowid IN (
                            SELECT rowid FROM deliveries
                            WHERE tenant = ? AND connector = ? AND status = 'pending' AND next_attempt_at <= ?
                                AND (lease_until IS NULL OR lease_until <= ?)
                            ORDER BY event_seq LIMIT ?)
                        RETURNING \(Self.deliveryColumns)
                        """),
                arguments: [Timestamp.milliseconds(leaseUntil), tenant, connector, now, now, limit]
            ).map(Self.delivery).sorted { $0.eventSeq < $1.eventSeq }
        }
    }

    public func recordDeliveries(_ deliveries: [DeliveryRecord]) async throws {
        try await pool.write { db in
            // Deliveries with the same outcome (most of a batch) are one statement.
            for group in DeliveryOutcomeGroup.groups(of: deliveries) {
                let first = group.first!
                for part in stride(from: 0, to: group.count, by: 500) {
                    let ids = group[part..<min(part + 500, group.count)].map(\.id)
                    try db.execute(
                        sql: """
                            UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = NULL,
                                last_status = ?, last_error = ?, updated_at = ?
                            WHERE tenant = ? AND connector = ? AND id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))
                            """,
                        arguments: StatementArguments(
                            [
                                first.status.rawValue, first.attempts, first.nextAttemptAt.map(Timestamp.milliseconds),
                                first.lastStatus, first.lastError, Timestamp.milliseconds(first.updatedAt),
                                first.tenant,
                                first.connector,
                            ] as [(any DatabaseValueConvertible)?]) + StatementArguments(ids))
                }
            }
        }
    }

    public func deliveries(
        tenant: String, connector: String?, status: DeliveryStatus?, before: Int64?, limit: Int
    ) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.deliveryColumns) FROM deliveries
                    WHERE tenant = ? AND (? IS NULL OR connector = ?) AND (? IS NULL OR status = ?)
                        AND (? IS NULL OR event_seq < ?)
                    ORDER BY event_seq DESC, connector LIMIT ?
                    """,
                arguments: [
                    tenant, connector, connector, status?.rawValue, status?.rawValue, before, before, limit,
                ]
            ).map(Self.delivery)
        }
    }

    public func replayDeliveries(
        tenant: String, connector: String, ids: [String]?, now: Date, event: @Sendable ([String]) -> EventDraft
    ) async throws -> [String] {
        try await pool.write { db in
            let chosen = ids.map { ids in " AND id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))" } ?? ""
            let condition = "WHERE tenant = ? AND connector = ? AND status = 'dead'\(chosen)"
            let key: [(any DatabaseValueConvertible)?] = [tenant, connector]
            let arguments = StatementArguments(key + (ids ?? []).map { $0 as (any DatabaseValueConvertible)? })
            let replayed = try String.fetchAll(
                db, sql: "SELECT id FROM deliveries \(condition) ORDER BY event_seq", arguments: arguments)
            guard !replayed.isEmpty else { return [] }
            try db.execute(
                sql: """
                    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL,
                        updated_at = ?
                    \(condition)
                    """,
                arguments: [Timestamp.milliseconds(now), Timestamp.milliseconds(now)] + arguments)
            try Self.appendEvents([event(replayed)], in: db)
            return replayed
        }
    }

    public func pauseSubscription(tenant: String, connector: String, reason: String?, event: EventDraft) async throws
        -> String?
    {
        try await pool.write { db in
            let key: StatementArguments = [tenant, connector]
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT paused_reason FROM subscription_cursors WHERE tenant = ? AND connector = ?",
                    arguments: key)
            else { return nil }
            let previous: String? = row["paused_reason"]
            guard previous != reason else { return previous }
            try db.execute(
                sql: "UPDATE subscription_cursors SET paused_reason = ? WHERE tenant = ? AND connector = ?",
                arguments: [reason] + key)
            try Self.appendEvents([event], in: db)
            return previous
        }
    }

    /// The columns ``delivery(_:)`` reads, in its order (by position: GRDB's lookup by name
    /// lowercases every column name of the row).
    static let deliveryColumns = """
        tenant, connector, id, event_seq, event_type, status, attempts, next_attempt_at, last_status, last_error,
        created_at, updated_at
        """

    /// A row of ``deliveryColumns``.
    static func delivery(_ row: Row) -> DeliveryRecord {
        DeliveryRecord(
            tenant: row[0], connector: row[1], id: row[2], eventSeq: row[3], eventType: row[4],
            status: DeliveryStatus(rawValue: row[5]) ?? .dead, attempts: row[6],
            nextAttemptAt: (row[7] as Int64?).map(Timestamp.date(milliseconds:)), lastStatus: row[8],
            lastError: row[9], createdAt: Timestamp.date(milliseconds: row[10]),
            updatedAt: Timestamp.date(milliseconds: row[11]))
    }
}
