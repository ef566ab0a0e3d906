import Foundation
import UAEFCore

/// What an analytics request asks for: a dimension over whole UTC hours, grouped by interval,
/// one page of keys. Read from the query of `/v1/analytics/{dimension}`, of the console's
/// analytics page and from `uaef analytics`'s options alike.
public struct AnalyticsQuery: Sendable {
    public var dimension: AnalyticsDimension
    /// Whole days back from ``end`` (1…400).
    public var days: Int = 7
    /// The instant the range ends, its hour included.
    public var end: Date
    public var interval: AnalyticsInterval
    public var after: String?
    public var limit: Int = 50

    public static let dayRange = 1...400
    /// The longest range counted per hour.
    public static let hourlyDays = 14

    /// The hours the range covers: hourly, `days` × 24 hours ending with the hour `end` falls in;
    /// daily, `days` whole UTC days ending with the day `end` falls in.
    public var hours: ClosedRange<Int64> {
        let last = AnalyticsBucketKey.hour(of: end)
        guard interval == .day else { return (last - Int64(days) * 24 + 1)...last }
        let lastDay = AnalyticsBucketKey.day(of: last)
        return (lastDay - Int64(days - 1) * 24)...(lastDay + 23)
    }

    /// A bad parameter, named with what would be valid.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `days`, `to`, `interval`, `after` and `limit` from `query` (absent: 7 days to now,
    /// hourly up to 2 days and daily beyond, 50 keys); a bad value throws ``Invalid`` naming it.
    public init(dimension: AnalyticsDimension, query: (String) throws -> String?, now: Date) throws {
        self.dimension = dimension
        if let text = try query("days") {
            guard let days = Int(text), Self.dayRange.contains(days) else {
                throw Invalid(
                    description:
                        "days=\(text.prefix(40)) must be a whole number of days from 1 to \(Self.dayRange.upperBound)")
            }
            self.days = days
        }
        end = now
        if let text = try query("to") {
            guard let end = Timestamp.parse(text) else {
                throw Invalid(description: "to=\(text.prefix(40)) is not an RFC 3339 time such as 2026-12-04T10:00:00Z")
            }
            self.end = end
        }
        interval = days <= 2 ? .hour : .day
        if let text = try query("interval") {
            guard let interval = AnalyticsInterval(rawValue: text), interval == .day || days <= Self.hourlyDays else {
                throw Invalid(
                    description:
                        "interval=\(text.prefix(40)) must be day, or hour for up to \(Self.hourlyDays) days")
            }
            self.interval = interval
        }
        after = try query("after")
        if let text = try query("limit") {
            guard let limit = Int(text), (1...AnalyticsReport.maximumLimit).contains(limit) else {
                throw Invalid(
                    description:
                        "limit=\(text.prefix(40)) must be a whole number from 1 to \(AnalyticsReport.maximumLimit)")
            }
            self.limit = limit
        }
    }
}

extension AnalyticsStore {
    /// A page of one dimension's analytics for `tenant`, and the seq of the first event not yet
    /// counted in it.
    public func analytics(_ query: AnalyticsQuery, tenant: String) async throws -> (
        report: AnalyticsReport, countedBefore: Int64
    ) {
        let cursor = try await analyticsCursor()
        let buckets = try await analyticsBuckets(
            tenant: tenant, dimension: query.dimension, span: query.interval, hours: query.hours, after: query.after,
            keys: query.limit + 1)
        let totals = try await analyticsTotals(
            tenant: tenant, dimension: query.dimension, span: query.interval, hours: query.hours)
        let report = AnalyticsReport(
            dimension: query.dimension, hours: query.hours, interval: query.interval, buckets: buckets,
            totals: totals, limit: query.limit)
        return (report, cursor)
    }
}

extension AnalyticsReport {
    /// The report as `GET /v1/analytics/{dimension}` and `uaef analytics --json` give it.
    public func json(countedBefore cursor: Int64) -> JSONValue {
        var value: [String: JSONValue] = [
            "dimension": .string(dimension.rawValue), "from": .string(Timestamp.format(from)),
            "to": .string(Timestamp.format(to)), "interval": .string(interval.rawValue),
            "counted_before_seq": .number(Number(Int(cursor))),
            "series": .array(series.map { Self.json(of: $0, keyed: true) }),
            "overall": .array(overall.map { Self.json(of: $0, keyed: false) }),
        ]
        if let next = next { value["next"] = .string(next) }
        return .object(value)
    }

    static func json(of series: AnalyticsSeries, keyed: Bool) -> JSONValue {
        var value: [String: JSONValue] = [
            "summary": json(series.summary), "points": .array(series.points.map(json)),
        ]
        if keyed { value["key"] = .string(series.key) }
        if !series.currency.isEmpty { value["currency"] = .string(series.currency) }
        return .object(value)
    }

    static func json(_ point: AnalyticsPoint) -> JSONValue {
        var value: [String: JSONValue] = [
            "start": .string(Timestamp.format(point.start)), "total": .number(Number(Int(point.total))),
            "succeeded": .number(Number(Int(point.succeeded))), "failed": .number(Number(Int(point.failed))),
            "cancelled": .number(Number(Int(point.cancelled))),
        ]
        if let rate = point.successRate {
            value["success_rate"] = .number(Number(Decimal(rate)).rounded(scale: 4, mode: .plain))
        }
        for (name, percentile) in [("p50_ms", point.p50), ("p95_ms", point.p95), ("p99_ms", point.p99)] {
            if let percentile { value[name] = .number(Number(Int(percentile))) }
        }
        if let amount = point.amountText { value["amount"] = .string(amount) }
        if point.tokens > 0 { value["tokens"] = .number(Number(Int(point.tokens))) }
        return .object(value)
    }
}
