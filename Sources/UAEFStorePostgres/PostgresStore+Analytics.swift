import Foundation
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    public func analyticsCursor() async throws -> Int64 {
        try await rows("SELECT next_seq FROM analytics_cursor WHERE id = 1") { row in
            try Columns(row, table: "analytics_cursor")("next_seq", as: Int64.self)
        }.first ?? 0
    }

    public func analyticsBuckets(_ keys: [AnalyticsBucketKey]) async throws -> [AnalyticsBucket] {
        guard !keys.isEmpty else { return [] }
        let tenants = keys.map(\.tenant)
        let dimensions = keys.map(\.dimension.rawValue)
        let spans = keys.map(\.span.rawValue)
        let hours = keys.map(\.hour)
        let names = keys.map(\.key)
        let currencies = keys.map(\.currency)
        return try await rows(
            """
            SELECT b.* FROM analytics_buckets b
            JOIN unnest(\(tenants), \(dimensions), \(spans), \(hours), \(names), \(currencies))
                AS k (tenant, dimension, span, hour, key, currency)
            USING (tenant, dimension, span, hour, key, currency)
            """, Self.analyticsBucket)
    }

    public func saveAnalytics(_ buckets: [AnalyticsBucket], cursor from: Int64, to: Int64) async throws -> Bool {
        try await transaction { connection in
            let moved = try await connection.query(
                "UPDATE analytics_cursor SET next_seq = \(to) WHERE id = 1 AND next_seq = \(from) RETURNING 1",
                logger: logger
            ).collect()
            guard !moved.isEmpty else { return false }
            try await BulkInsert.run(
                buckets,
                """
                INSERT INTO analytics_buckets (tenant, dimension, span, hour, key, currency, total, succeeded,
                    failed, cancelled, durations, amount, tokens)
                """, width: 13,
                suffix: """
                     ON CONFLICT (tenant, dimension, span, hour, key, currency) DO UPDATE SET total = EXCLUDED.total,
                        succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed, cancelled = EXCLUDED.cancelled,
                        durations = EXCLUDED.durations, amount = EXCLUDED.amount, tokens = EXCLUDED.tokens
                    """, on: connection, logger: logger
            ) { bucket, columns in
                columns.append(bucket.id.tenant)
                columns.append(bucket.id.dimension.rawValue)
                columns.append(bucket.id.span.rawValue)
                columns.append(bucket.id.hour)
                columns.append(bucket.id.key)
                columns.append(bucket.id.currency)
                columns.append(bucket.total)
                columns.append(bucket.succeeded)
                columns.append(bucket.failed)
                columns.append(bucket.cancelled)
                columns.append(bucket.durations.text)
                columns.append(bucket.amount)
                columns.append(bucket.tokens)
            }
            return true
        }
    }

    public func analyticsBuckets(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>,
        after key: String?, keys: Int
    ) async throws -> [AnalyticsBucket] {
        // The page's keys first, from the index alone; then only their rows are decoded.
        try await rows(
            """
            SELECT * FROM analytics_buckets
            WHERE tenant = \(tenant) AND dimension = \(dimension.rawValue) AND span = \(span.rawValue)
                AND hour BETWEEN \(hours.lowerBound) AND \(hours.upperBound) AND key IN (
                    SELECT DISTINCT key COLLATE "C" FROM analytics_buckets
                    WHERE tenant = \(tenant) AND dimension = \(dimension.rawValue) AND span = \(span.rawValue)
                        AND hour BETWEEN \(hours.lowerBound) AND \(hours.upperBound)
                        AND key COLLATE "C" > \(key ?? AnalyticsBucketKey.all)
                    ORDER BY key COLLATE "C" LIMIT \(keys))
            ORDER BY key COLLATE "C", currency COLLATE "C", hour
            """, Self.analyticsBucket)
    }

    public func analyticsTotals(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>
    ) async throws -> [AnalyticsBucket] {
        try await rows(
            """
            SELECT * FROM analytics_buckets
            WHERE tenant = \(tenant) AND dimension = \(dimension.rawValue) AND span = \(span.rawValue)
                AND hour BETWEEN \(hours.lowerBound) AND \(hours.upperBound) AND key = \(AnalyticsBucketKey.all)
            ORDER BY currency COLLATE "C", hour
            """, Self.analyticsBucket)
    }

    static func analyticsBucket(_ row: PostgresRow) throws -> AnalyticsBucket {
        let c = Columns(row, table: "analytics_buckets")
        let text = try c("durations", as: String.self)
        guard let durations = DurationHistogram(text: text) else {
            throw StoreCorruption(location: "analytics_buckets.durations", reason: "not bucket:count pairs")
        }
        var bucket = AnalyticsBucket(
            id: AnalyticsBucketKey(
                tenant: try c("tenant"), dimension: try c.enumValue("dimension"), span: try c.enumValue("span"),
                hour: try c("hour"),
                key: try c("key"), currency: try c("currency")))
        bucket.total = try c("total")
        bucket.succeeded = try c("succeeded")
        bucket.failed = try c("failed")
        bucket.cancelled = try c("cancelled")
        bucket.durations = durations
        bucket.amount = try c("amount")
        bucket.tokens = try c("tokens")
        return bucket
    }
}
