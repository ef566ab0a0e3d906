import Foundation
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func subscriptionCursor(tenant: String, connector: String) async throws -> SubscriptionCursor {
        // Read first: the cursor exists but once, and subscribers look at it all the time.
        let existing = try await rows(
            "SELECT next_seq, paused_reason FROM subscription_cursors WHERE tenant = \(tenant) AND connector = \(connector)"
        ) { row in
            let c = Columns(row, table: "subscription_cursors")
            return SubscriptionCursor(
                tenant: tenant, connector: connector, next: try c("next_seq"), pausedReason: try c("paused_reason"))
        }
        if let cursor = existing.first { return cursor }
        let subject = "connector/\(connector)"
        return try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO subscription_cursors (tenant, connector, next_seq)
                VALUES (\(tenant), \(connector), COALESCE(
                    (SELECT seq + 1 FROM events WHERE tenant = \(tenant) AND subject = \(subject)
                        AND type = 'connector.saved' ORDER BY seq DESC LIMIT 1),
                    (SELECT COALESCE(MAX(seq) + 1, 0) FROM events)))
                ON CONFLICT (tenant, connector) DO NOTHING
                """, logger: logger)
            let rows = try await connection.query(
                "SELECT next_seq, paused_reason FROM subscription_cursors WHERE tenant = \(tenant) AND connector = \(connector)",
                logger: logger
            ).collect()
            guard let row = rows.first else {
                throw StoreCorruption(location: "subscription_cursors", reason: "\(connector): not written")
            }
            let c = Columns(row, table: "subscription_cursors")
            return SubscriptionCursor(
                tenant: tenant, connector: connector, next: try c("next_seq"), pausedReason: try c("paused_reason"))
        }
    }

    public func enqueueDeliveries(
        _ deliveries: [DeliveryRecord], tenant: String, connector: String, from: Int64, next: Int64
    ) async throws -> Bool {
        try await transaction { connection in
            let moved = try await connection.query(
                """
                UPDATE subscription_cursors SET next_seq = \(next)
                WHERE tenant = \(tenant) AND connector = \(connector) AND next_seq = \(from) RETURNING 1
                """, logger: logger
            ).collect()
            guard !moved.isEmpty else { return false }
            for delivery in deliveries {
                try await connection.query(
                    """
                    INSERT INTO deliveries (tenant, connector, id, event_seq, event_type, status, attempts,
                        next_attempt_at, created_at, updated_at)
                    VALUES (\(delivery.tenant), \(delivery.connector), \(delivery.id), \(delivery.eventSeq),
                        \(delivery.eventType), \(delivery.status.rawValue), \(delivery.attempts),
                        \(delivery.nextAttemptAt.map(Timestamp.milliseconds)), \(Timestamp.milliseconds(delivery.createdAt)),
                        \(Timestamp.milliseconds(delivery.updatedAt)))
                    ON CONFLICT (tenant, connector, id) DO NOTHING
                    """, logger: logger)
            }
            return true
        }
    }

    public func claimDeliveries(tenant: String, connector: String, now: Date, leaseUntil: Date, limit: Int)
        async throws -> [DeliveryRecord]
    {
        let now = Timestamp.milliseconds(now)
        return try await rows(
            """
            UPDATE deliveries SET lease_until = \(Timestamp.milliseconds(leaseUntil))
            WHERE (tenant, connector, id) IN (
                SELECT tenant, connector, id FROM deliveries
                WHERE tenant = \(tenant) AND connector = \(connector) AND status = 'pending'
                    AND next_attempt_at <= \(now) AND (lease_until IS NULL OR lease_until <= \(now))
                ORDER BY event_seq LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            RETURNING *
            """, Self.delivery
        ).sorted { $0.eventSeq < $1.eventSeq }
    }

    public func recordDeliveries(_ deliveries: [DeliveryRecord]) async throws {
        try await transaction { connection in
            // Deliveries with the same outcome (most of a batch) are one statement.
            for group in DeliveryOutcomeGroup.groups(of: deliveries) {
                let first = group.first!
                let ids = group.map(\.id)
                try await connection.query(
                    """
                    UPDATE deliveries SET status = \(first.status.rawValue), attempts = \(first.attempts),
                        next_attempt_at = \(first.nextAttemptAt.map(Timestamp.milliseconds)), lease_until = NULL,
                        last_status = \(first.lastStatus), last_error = \(first.lastError),
                        updated_at = \(Timestamp.milliseconds(first.updatedAt))
                    WHERE tenant = \(first.tenant) AND connector = \(first.connector) AND id = ANY(\(ids))
                    """, logger: logger)
            }
        }
    }

    public func deliveries(
        tenant: String, connector: String?, status: DeliveryStatus?, before: Int64?, limit: Int
    ) async throws -> [DeliveryRecord] {
        let statusText = status?.rawValue
        return try await rows(
            """
            SELECT * FROM deliveries
            WHERE tenant = \(tenant) AND (\(connector)::TEXT IS NULL OR connector = \(connector))
                AND (\(statusText)::TEXT IS NULL OR status = \(statusText))
                AND (\(before)::BIGINT IS NULL OR event_seq < \(before))
            ORDER BY event_seq DESC, connector LIMIT \(limit)
            """, Self.delivery)
    }

    public func replayDeliveries(
        tenant: String, connector: String, ids: [String]?, now: Date, event: @Sendable ([String]) -> EventDraft
    ) async throws -> [String] {
        let now = Timestamp.milliseconds(now)
        return try await transaction { connection in
            var replayed: [(seq: Int64, id: String)] = []
            for try await row in try await connection.query(
                """
                UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = \(now), lease_until = NULL,
                    updated_at = \(now)
                WHERE tenant = \(tenant) AND connector = \(connector) AND status = 'dead'
                    AND (\(ids == nil) OR id = ANY(\(ids ?? [])))
                RETURNING event_seq, id
                """, logger: logger)
            {
                let c = Columns(row, table: "deliveries")
                replayed.append((try c("event_seq"), try c("id")))
            }
            guard !replayed.isEmpty else { return [] }
            let ids = replayed.sorted { $0.seq < $1.seq }.map(\.id)
            try await PostgresLedger.append([event(ids)], on: connection, logger: logger)
            return ids
        }
    }

    public func pauseSubscription(tenant: String, connector: String, reason: String?, event: EventDraft) async throws
        -> String?
    {
        try await transaction { connection in
            var found: [String?] = []
            for try await row in try await connection.query(
                """
                SELECT paused_reason FROM subscription_cursors WHERE tenant = \(tenant) AND connector = \(connector)
                FOR UPDATE
                """, logger: logger)
            {
                found.append(try Columns(row, table: "subscription_cursors")("paused_reason"))
            }
            guard let previous = found.first else { return nil }
            guard previous != reason else { return previous }
            _ = try await connection.query(
                """
                UPDATE subscription_cursors SET paused_reason = \(reason)
                WHERE tenant = \(tenant) AND connector = \(connector)
                """, logger: logger)
            try await PostgresLedger.append([event], on: connection, logger: logger)
            return previous
        }
    }

    static func delivery(_ row: PostgresRow) throws -> DeliveryRecord {
        let c = Columns(row, table: "deliveries")
        return DeliveryRecord(
            tenant: try c("tenant"), connector: try c("connector"), id: try c("id"), eventSeq: try c("event_seq"),
            eventType: try c("event_type"), status: try c.enumValue("status"),
            attempts: Int(try c("attempts", as: Int32.self)),
            nextAttemptAt: try c.optionalDate("next_attempt_at"),
            lastStatus: try c("last_status", as: Int32?.self).map(Int.init),
            lastError: try c("last_error"), createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"))
    }
}
