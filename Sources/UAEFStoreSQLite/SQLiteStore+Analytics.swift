import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func analyticsCursor() async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT next_seq FROM analytics_cursor WHERE id = 1") ?? 0
        }
    }

    public func analyticsBuckets(_ keys: [AnalyticsBucketKey]) async throws -> [AnalyticsBucket] {
        guard !keys.isEmpty else { return [] }
        return try await pool.read { db in
            try keys.compactMap { key in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM analytics_buckets
                        WHERE tenant = ? AND dimension = ? AND span = ? AND hour = ? AND key = ? AND currency = ?
                        """,
                    arguments: [key.tenant, key.dimension.rawValue, key.span.rawValue, key.hour, key.key, key.currency]
                ).map(Self.analyticsBucket)
            }
        }
    }

    public func saveAnalytics(_ buckets: [AnalyticsBucket], cursor from: Int64, to: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE analytics_cursor SET next_seq = ? WHERE id = 1 AND next_seq = ?", arguments: [to, from])
            guard db.changesCount == 1 else { return false }
            for bucket in buckets {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO analytics_buckets (tenant, dimension, span, hour, key, currency,
                            total, succeeded, failed, cancelled, durations, amount, tokens)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        bucket.id.tenant, bucket.id.dimension.rawValue, bucket.id.span.rawValue, bucket.id.hour,
                        bucket.id.key,
                        bucket.id.currency, bucket.total, bucket.succeeded, bucket.failed, bucket.cancelled,
                        bucket.durations.text, bucket.amount, bucket.tokens,
                    ])
            }
            return true
        }
    }

    public func analyticsBuckets(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>,
        after key: String?, keys: Int
    ) async throws -> [AnalyticsBucket] {
        try await pool.read { db in
            // The page's keys first, from the index alone; then only their rows are decoded.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM analytics_buckets
                    WHERE tenant = ? AND dimension = ? AND span = ? AND hour BETWEEN ? AND ? AND key IN (
                        SELECT DISTINCT key FROM analytics_buckets
                        WHERE tenant = ? AND dimension = ? AND span = ? AND hour BETWEEN ? AND ? AND key > ?
                        ORDER BY key LIMIT ?)
                    ORDER BY key, currency, hour
                    """,
                arguments: [
                    tenant, dimension.rawValue, span.rawValue, hours.lowerBound, hours.upperBound, tenant,
                    dimension.rawValue, span.rawValue, hours.lowerBound, hours.upperBound,
                    key ?? AnalyticsBucketKey.all,
                    keys,
                ]
            ).map(Self.analyticsBucket)
        }
    }

    public func analyticsTotals(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>
    ) async throws -> [AnalyticsBucket] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM analytics_buckets
                    WHERE tenant = ? AND dimension = ? AND span = ? AND hour BETWEEN ? AND ? AND key = ?
                    ORDER BY currency, hour
                    """,
                arguments: [
                    tenant, dimension.rawValue, span.rawValue, hours.lowerBound, hours.upperBound,
                    AnalyticsBucketKey.all,
                ]
            ).map(Self.analyticsBucket)
        }
    }

    static func analyticsBucket(_ row: Row) throws -> AnalyticsBucket {
        let text: String = row["durations"]
        guard let dimension = AnalyticsDimension(rawValue: row["dimension"]),
            let span = AnalyticsInterval(rawValue: row["span"]), let durations = DurationHistogram(text: text)
        else {
            throw StoreCorruption(
                location: "analytics_buckets", reason: "bucket \(row["key"] ?? "?"): unreadable dimension or durations")
        }
        var bucket = AnalyticsBucket(
            id: AnalyticsBucketKey(
                tenant: row["tenant"], dimension: dimension, span: span, hour: row["hour"], key: row["key"],
                currency: row["currency"]))
        bucket.total = row["total"]
        bucket.succeeded = row["succeeded"]
        bucket.failed = row["failed"]
        bucket.cancelled = row["cancelled"]
        bucket.durations = durations
        bucket.amount = row["amount"]
        bucket.tokens = row["tokens"]
        return bucket
    }
}
