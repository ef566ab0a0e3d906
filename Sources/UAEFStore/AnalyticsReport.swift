import Foundation
import UAEFCore

/// How a report's counts are grouped in time.
public enum AnalyticsInterval: String, Sendable, CaseIterable {
    case hour, day

    /// Hours in one interval.
    public var hours: Int64 { self == .hour ? 1 : 24 }
}

/// Counts over one interval, or over a whole report's range.
public struct AnalyticsPoint: Sendable, Hashable {
    /// The interval's first instant.
    public var start: Date
    public var total: Int64 = 0
    public var succeeded: Int64 = 0
    public var failed: Int64 = 0
    public var cancelled: Int64 = 0
    /// Duration percentiles in milliseconds (see ``DurationHistogram``); nil without durations.
    public var p50: Int64?
    public var p95: Int64?
    public var p99: Int64?
    /// The amount counted (cost, settled money) in units of `10^-amountScale` of the series'
    /// currency; nil for dimensions without one.
    public var amountUnits: Int64?
    public var amountScale = 0
    public var tokens: Int64 = 0

    /// ``amountUnits`` as a decimal number.
    public var amount: Number? { amountUnits.map { Number($0, powerOfTen: -amountScale) } }

    /// ``amountUnits`` written with all `amountScale` decimals (`12.50`, `0.000150000`).
    public var amountText: String? {
        guard let units = amountUnits else { return nil }
        let digits = String(units.magnitude)
        let padded = String(repeating: "0", count: max(0, amountScale + 1 - digits.count)) + digits
        let whole = padded.dropLast(amountScale)
        let fraction = padded.suffix(amountScale)
        return (units < 0 ? "-" : "") + whole + (amountScale > 0 ? "." + fraction : "")
    }

    /// Succeeded out of those that ended succeeded or failed (cancelled ones left out), 0…1;
    /// nil when none did.
    public var successRate: Double? {
        let decided = succeeded.addingSaturated(failed)
        return decided > 0 ? Double(succeeded) / Double(decided) : nil
    }

    init(start: Date, bucket: AnalyticsBucket, dimension: AnalyticsDimension) {
        self.start = start
        total = bucket.total
        succeeded = bucket.succeeded
        failed = bucket.failed
        cancelled = bucket.cancelled
        let percentiles = bucket.durations.percentiles([0.5, 0.95, 0.99])
        (p50, p95, p99) = (percentiles[0], percentiles[1], percentiles[2])
        tokens = bucket.tokens
        if dimension == .llmCosts || dimension == .rules {
            amountUnits = bucket.amount
            amountScale = dimension.amountScale(currency: bucket.id.currency)
        }
    }
}

/// One key's counts (a workflow, task, agent or rule, in one currency) over a report's range.
public struct AnalyticsSeries: Sendable, Hashable {
    public var key: String
    /// The ISO 4217 code of ``AnalyticsPoint/amount``, `""` without one.
    public var currency: String
    /// The whole range.
    public var summary: AnalyticsPoint
    /// The intervals that counted anything, oldest first.
    public var points: [AnalyticsPoint]
}

/// A page of one dimension's series over a time range, built from hourly buckets.
public struct AnalyticsReport: Sendable {
    public var dimension: AnalyticsDimension
    /// The first hour's start and the end of the last hour.
    public var from: Date
    public var to: Date
    public var interval: AnalyticsInterval
    /// By key, then currency.
    public var series: [AnalyticsSeries]
    /// The last key of this page when more keys follow (pass it as `after` for the next page).
    public var next: String?
    /// All keys together, one series per currency (keyed ``AnalyticsBucketKey/all``): what the
    /// whole dimension did over time.
    public var overall: [AnalyticsSeries]
    /// All keys and currencies together: counts and durations without an amount, for charts of
    /// outcomes and durations; nil when nothing was counted.
    public var combined: AnalyticsSeries?

    /// The largest page.
    public static let maximumLimit = 500

    /// Groups `buckets` (of up to `limit` keys and one more, ordered by key, currency and hour,
    /// as ``AnalyticsStore/analyticsBuckets(tenant:dimension:span:hours:after:keys:)`` returns
    /// them) into series of `interval`s, the first `limit` keys of them; `totals` (ordered by
    /// currency and hour) make ``overall`` and ``combined``.
    public init(
        dimension: AnalyticsDimension, hours: ClosedRange<Int64>, interval: AnalyticsInterval,
        buckets: [AnalyticsBucket], totals: [AnalyticsBucket], limit: Int
    ) {
        self.dimension = dimension
        self.interval = interval
        from = Self.date(hour: hours.lowerBound)
        to = Self.date(hour: hours.upperBound + 1)
        var series: [AnalyticsSeries] = []
        var keys = 0
        var index = buckets.startIndex
        next = nil
        while index < buckets.endIndex {
            let id = buckets[index].id
            var end = index
            while end < buckets.endIndex, buckets[end].id.key == id.key, buckets[end].id.currency == id.currency {
                end += 1
            }
            if series.last?.key != id.key {
                if keys == limit {
                    next = series.last?.key
                    break
                }
                keys += 1
            }
            series.append(Self.series(buckets[index..<end], dimension: dimension, hours: hours, interval: interval))
            index = end
        }
        self.series = series
        overall = Dictionary(grouping: totals, by: \.id.currency).sorted { $0.key < $1.key }.map { _, hourly in
            Self.series(hourly[...], dimension: dimension, hours: hours, interval: interval)
        }
        var byHour: [Int64: AnalyticsBucket] = [:]
        for bucket in totals {
            var id = bucket.id
            id.currency = ""
            byHour[id.hour, default: AnalyticsBucket(id: id)].merge(bucket)
        }
        // Amounts of several currencies do not add up: the combined series has none.
        let hourly = byHour.sorted { $0.key < $1.key }.map(\.value)
        combined =
            hourly.isEmpty
            ? nil : Self.series(hourly[...], dimension: dimension, hours: hours, interval: interval, amounts: false)
    }

    private static func series(
        _ buckets: ArraySlice<AnalyticsBucket>, dimension: AnalyticsDimension, hours: ClosedRange<Int64>,
        interval: AnalyticsInterval, amounts: Bool = true
    ) -> AnalyticsSeries {
        let first = buckets[buckets.startIndex].id
        var whole = AnalyticsBucket(id: first)
        var intervals: [(start: Int64, bucket: AnalyticsBucket)] = []
        for bucket in buckets {
            whole.merge(bucket)
            let start = bucket.id.hour - (bucket.id.hour - hours.lowerBound) % interval.hours
            if intervals.last?.start == start {
                intervals[intervals.count - 1].bucket.merge(bucket)
            } else {
                intervals.append((start, bucket))
            }
        }
        var series = AnalyticsSeries(
            key: first.key, currency: first.currency,
            summary: AnalyticsPoint(start: date(hour: hours.lowerBound), bucket: whole, dimension: dimension),
            points: intervals.map {
                AnalyticsPoint(start: date(hour: $0.start), bucket: $0.bucket, dimension: dimension)
            })
        if !amounts {
            series.summary.amountUnits = nil
            for index in series.points.indices { series.points[index].amountUnits = nil }
        }
        return series
    }

    static func date(hour: Int64) -> Date { Date(timeIntervalSince1970: Double(hour) * 3600) }
}
