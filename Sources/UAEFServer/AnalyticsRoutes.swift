import Foundation
import Hummingbird
import UAEFCore
import UAEFStore

/// What an analytics request asks for: a dimension over whole UTC hours, grouped by interval,
/// one page of keys. Parsed from the query of `/v1/analytics/{dimension}` and of the console's
/// analytics page alike.
struct AnalyticsRequest: Sendable {
    var dimension: AnalyticsDimension
    /// Whole days back from ``end`` (1…400).
    var days: Int = 7
    /// The instant the range ends, its hour included.
    var end: Date
    var interval: AnalyticsInterval
    var after: String?
    var limit: Int = 50

    static let dayRange = 1...400
    /// The longest range counted per hour.
    static let hourlyDays = 14

    /// The hours the range covers: hourly, `days` × 24 hours ending with the hour `end` falls in;
    /// daily, `days` whole UTC days ending with the day `end` falls in.
    var hours: ClosedRange<Int64> {
        let last = AnalyticsBucketKey.hour(of: end)
        guard interval == .day else { return (last - Int64(days) * 24 + 1)...last }
        let lastDay = AnalyticsBucketKey.day(of: last)
        return (lastDay - Int64(days - 1) * 24)...(lastDay + 23)
    }

    /// Reads `days`, `to`, `interval`, `after` and `limit` from `query` (absent: 7 days to now,
    /// hourly up to 2 days and daily beyond, 50 keys); a bad value is a 400 naming it.
    init(dimension: AnalyticsDimension, query: (String) throws -> String?, now: Date) throws {
        self.dimension = dimension
        if let text = try query("days") {
            guard let days = Int(text), Self.dayRange.contains(days) else {
                throw Problem.badRequest(
                    "days=\(text.prefix(40)) must be a whole number of days from 1 to \(Self.dayRange.upperBound)")
            }
            self.days = days
        }
        end = now
        if let text = try query("to") {
            guard let end = Timestamp.parse(text) else {
                throw Problem.badRequest("to=\(text.prefix(40)) is not an RFC 3339 time such as 2026-12-04T10:00:00Z")
            }
            self.end = end
        }
        interval = days <= 2 ? .hour : .day
        if let text = try query("interval") {
            guard let interval = AnalyticsInterval(rawValue: text), interval == .day || days <= Self.hourlyDays else {
                throw Problem.badRequest(
                    "interval=\(text.prefix(40)) must be day, or hour for up to \(Self.hourlyDays) days")
            }
            self.interval = interval
        }
        after = try query("after")
        if let text = try query("limit") {
            guard let limit = Int(text), (1...AnalyticsReport.maximumLimit).contains(limit) else {
                throw Problem.badRequest(
                    "limit=\(text.prefix(40)) must be a whole number from 1 to \(AnalyticsReport.maximumLimit)")
            }
            self.limit = limit
        }
    }
}

extension APIOperations {
    /// A page of one dimension's analytics for the tenant, and the seq of the first event not yet
    /// counted in it.
    func analytics(_ request: AnalyticsRequest, tenant: String) async throws -> (
        report: AnalyticsReport, countedBefore: Int64
    ) {
        let cursor = try await store.analyticsCursor()
        let buckets = try await store.analyticsBuckets(
            tenant: tenant, dimension: request.dimension, span: request.interval, hours: request.hours,
            after: request.after)
        let report = AnalyticsReport(
            dimension: request.dimension, hours: request.hours, interval: request.interval, buckets: buckets,
            limit: request.limit)
        return (report, cursor)
    }
}

/// `GET /v1/analytics/{dimension}`: throughput, success rates, duration percentiles, cost and
/// settled amounts over time, from the hourly buckets ``AnalyticsRollup`` keeps.
struct AnalyticsRoutes {
    let operations: APIOperations

    func add(to group: RouterGroup<APIContext>) {
        group.get("analytics/:dimension") { request, context in
            let principal = try context.require(.read)
            let name = try context.parameters.require("dimension")
            guard let dimension = AnalyticsDimension(rawValue: name) else {
                let valid = AnalyticsDimension.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem.notFound("analytics dimension \(name.prefix(40)) (there are \(valid))")
            }
            let query = try AnalyticsRequest(dimension: dimension, query: request.textQuery, now: Date())
            let (report, cursor) = try await operations.analytics(query, tenant: principal.tenant)
            return JSONMessage.response(Self.json(report, countedBefore: cursor))
        }
    }

    static func json(_ report: AnalyticsReport, countedBefore cursor: Int64) -> JSONValue {
        var value: [String: JSONValue] = [
            "dimension": .string(report.dimension.rawValue), "from": .string(Timestamp.format(report.from)),
            "to": .string(Timestamp.format(report.to)), "interval": .string(report.interval.rawValue),
            "counted_before_seq": .number(Number(Int(cursor))),
            "series": .array(report.series.map { series(of: $0, keyed: true) }),
            "overall": .array(report.overall.map { series(of: $0, keyed: false) }),
        ]
        if let next = report.next { value["next"] = .string(next) }
        return .object(value)
    }

    static func series(of series: AnalyticsSeries, keyed: Bool) -> JSONValue {
        var value: [String: JSONValue] = [
            "summary": point(series.summary), "points": .array(series.points.map(point)),
        ]
        if keyed { value["key"] = .string(series.key) }
        if !series.currency.isEmpty { value["currency"] = .string(series.currency) }
        return .object(value)
    }

    static func point(_ point: AnalyticsPoint) -> JSONValue {
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
