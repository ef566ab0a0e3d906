import Foundation
import UAEFCore

/// What analytics count, each from the events that end it (see ``AnalyticsFold``).
public enum AnalyticsDimension: String, Sendable, CaseIterable {
    /// Ended runs by workflow, with their durations from creation to end.
    case workflows
    /// Ended attempts by task (`workflow/task`), with their durations.
    case tasks
    /// Ended attempts by agent id, with their durations.
    case agents
    /// `llm` model calls by agent name: their latency, tokens and cost, by currency.
    case llmCosts = "llm-costs"
    /// Posted settlements by rule: how many and the amount booked, by currency.
    case rules

    /// The decimal places of a bucket's ``AnalyticsBucket/amount`` in `currency`: billionths for
    /// model costs (as prices are given), the currency's minor units for settlements.
    public func amountScale(currency: String) -> Int {
        switch self {
        case .llmCosts: 9
        case .rules: Currency(code: currency)?.minorUnitDigits ?? 0
        case .workflows, .tasks, .agents: 0
        }
    }
}

/// Where a bucket belongs: one tenant's `dimension` for one `key` (and currency) in one UTC hour,
/// or one UTC day (every event is counted in both, so long ranges read a day per row). Every
/// event is also counted under the key ``AnalyticsBucketKey/all`` (`""`, never a real key), so a
/// dimension's totals are read without reading every key.
public struct AnalyticsBucketKey: Sendable, Hashable {
    public var tenant: String
    public var dimension: AnalyticsDimension
    /// How long the bucket is: an hour or a day.
    public var span: AnalyticsInterval
    /// The bucket's first hour, in hours since 1970-01-01T00:00Z (a multiple of 24 for a day).
    public var hour: Int64
    public var key: String
    /// The ISO 4217 code of the amount counted, `""` for dimensions without one.
    public var currency: String

    public init(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval = .hour, hour: Int64, key: String,
        currency: String = ""
    ) {
        self.tenant = tenant
        self.dimension = dimension
        self.span = span
        self.hour = hour
        self.key = key
        self.currency = currency
    }

    /// The key that counts every key of a dimension together.
    public static let all = ""

    /// The hour `time` falls in.
    public static func hour(of time: Date) -> Int64 { Int64((time.timeIntervalSince1970 / 3600).rounded(.down)) }

    /// The first hour of the UTC day that `hour` falls in.
    public static func day(of hour: Int64) -> Int64 { hour - ((hour % 24) + 24) % 24 }
}

/// What happened in one bucket's hour. Counters saturate at `Int64.max` rather than wrap.
public struct AnalyticsBucket: Sendable, Hashable {
    public var id: AnalyticsBucketKey
    /// Things ended: runs, attempts, model calls or settlements.
    public var total: Int64 = 0
    public var succeeded: Int64 = 0
    /// Failed, timed out, or (attempts) failed with a retry to follow.
    public var failed: Int64 = 0
    public var cancelled: Int64 = 0
    public var durations = DurationHistogram()
    /// Money in units of `10^-scale` of ``AnalyticsBucketKey/currency``, where the scale is
    /// ``AnalyticsDimension/amountScale(currency:)``.
    public var amount: Int64 = 0
    /// Model tokens (input, output and cache) for ``AnalyticsDimension/llmCosts``.
    public var tokens: Int64 = 0

    public init(id: AnalyticsBucketKey) { self.id = id }

    /// Adds `other`'s counts to these.
    public mutating func merge(_ other: AnalyticsBucket) {
        total = total.addingSaturated(other.total)
        succeeded = succeeded.addingSaturated(other.succeeded)
        failed = failed.addingSaturated(other.failed)
        cancelled = cancelled.addingSaturated(other.cancelled)
        durations.merge(other.durations)
        amount = amount.addingSaturated(other.amount)
        tokens = tokens.addingSaturated(other.tokens)
    }
}

/// Hourly counts kept from the event log by ``AnalyticsRollup``.
public protocol AnalyticsStore: Sendable {
    /// The seq of the first event not yet counted (0 on a new store).
    func analyticsCursor() async throws -> Int64
    /// The stored buckets among `keys`.
    func analyticsBuckets(_ keys: [AnalyticsBucketKey]) async throws -> [AnalyticsBucket]
    /// Saves `buckets`, replacing stored ones with the same keys, and moves the cursor from
    /// `from` to `to`, in one transaction; false, and nothing saved, when the cursor is no longer
    /// at `from` (another process counted those events first).
    func saveAnalytics(_ buckets: [AnalyticsBucket], cursor from: Int64, to: Int64) async throws -> Bool
    /// A tenant's `span` buckets of `dimension` that start in the hours `hours`, of the first
    /// `keys` keys (of those with any) after `key` (all keys when nil; ``AnalyticsBucketKey/all``
    /// is never among them), ordered by key, currency and hour.
    func analyticsBuckets(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>,
        after key: String?, keys: Int
    ) async throws -> [AnalyticsBucket]

    /// A tenant's `span` buckets of `dimension` under ``AnalyticsBucketKey/all`` that start in
    /// the hours `hours`, ordered by currency and hour.
    func analyticsTotals(
        tenant: String, dimension: AnalyticsDimension, span: AnalyticsInterval, hours: ClosedRange<Int64>
    ) async throws -> [AnalyticsBucket]
}

/// Turns events into bucket counts: pure, so the same events always count the same way.
///
/// - `run.succeeded|failed|cancelled` count a run of their `workflow`, with `duration_ms`.
/// - `task.succeeded`, `task.failed` and `task.retry_scheduled` that end an attempt (they carry
///   `workflow`, `task`, `duration_ms` and, for capability tasks, `agent`) count an attempt of the
///   task and of the agent.
/// - `llm.call` counts a model call of its `agent`: latency, tokens and `cost` in `currency`.
/// - `settlement.posted` with `amount` and `currency` counts a settlement of its `rule`.
///
/// Each is counted under its key and under ``AnalyticsBucketKey/all``. Events written before
/// they carried these facts count without durations (runs), or not at all (attempts' events
/// without `workflow`, `task` and `duration_ms`; `settlement.posted` without `amount`). An empty
/// key counts nowhere.
public struct AnalyticsFold: Sendable {
    public private(set) var buckets: [AnalyticsBucketKey: AnalyticsBucket] = [:]

    public init() {}

    /// The event types counted; the others are passed over without reading their data.
    public static let countedTypes: Set<String> = [
        "run.succeeded", "run.failed", "run.cancelled", "task.succeeded", "task.failed", "task.retry_scheduled",
        "llm.call", "settlement.posted",
    ]

    /// Counts an event of `type` of `tenant` at `time` with `data`.
    public mutating func add(type: String, tenant: String, time: Date, data: [String: JSONValue]) {
        let hour = AnalyticsBucketKey.hour(of: time)
        func text(_ name: String) -> String? { data[name]?.stringValue }
        func integer(_ name: String) -> Int64? { data[name]?.numberValue?.intValue.map(Int64.init) }
        func count(
            _ dimension: AnalyticsDimension, _ key: String, currency: String = "",
            _ change: (inout AnalyticsBucket) -> Void
        ) {
            guard key != AnalyticsBucketKey.all else { return }
            for (span, start) in [(AnalyticsInterval.hour, hour), (.day, AnalyticsBucketKey.day(of: hour))] {
                for counted in [key, AnalyticsBucketKey.all] {
                    let id = AnalyticsBucketKey(
                        tenant: tenant, dimension: dimension, span: span, hour: start, key: counted, currency: currency)
                    change(&buckets[id, default: AnalyticsBucket(id: id)])
                }
            }
        }
        func outcome(_ bucket: inout AnalyticsBucket, succeeded: Bool, cancelled: Bool = false) {
            bucket.total = bucket.total.addingSaturated(1)
            if succeeded {
                bucket.succeeded = bucket.succeeded.addingSaturated(1)
            } else if cancelled {
                bucket.cancelled = bucket.cancelled.addingSaturated(1)
            } else {
                bucket.failed = bucket.failed.addingSaturated(1)
            }
            if let duration = integer("duration_ms") ?? integer("latency_ms") {
                bucket.durations.record(milliseconds: duration)
            }
        }
        switch type {
        case "run.succeeded", "run.failed", "run.cancelled":
            guard let workflow = text("workflow") else { return }
            count(.workflows, workflow) {
                outcome(&$0, succeeded: type == "run.succeeded", cancelled: type == "run.cancelled")
            }
        case "task.succeeded", "task.failed", "task.retry_scheduled":
            guard let workflow = text("workflow"), let task = text("task"), data["duration_ms"] != nil else { return }
            let succeeded = type == "task.succeeded"
            count(.tasks, workflow + "/" + task) { outcome(&$0, succeeded: succeeded) }
            if let agent = text("agent") { count(.agents, agent) { outcome(&$0, succeeded: succeeded) } }
        case "llm.call":
            guard let agent = text("agent") else { return }
            let currency = text("currency") ?? ""
            let cost = data["cost"]?.numberValue.flatMap { Self.scaled($0, places: 9) } ?? 0
            let tokens = ["input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"]
                .compactMap(integer).reduce(Int64(0)) { $0.addingSaturated($1) }
            count(.llmCosts, agent, currency: currency) {
                outcome(&$0, succeeded: true)
                $0.amount = $0.amount.addingSaturated(cost)
                $0.tokens = $0.tokens.addingSaturated(tokens)
            }
        case "settlement.posted":
            guard let rule = text("rule"), let code = text("currency"), let currency = Currency(code: code),
                let amount = text("amount").flatMap({ Number(parsing: $0) }),
                let minor = Self.scaled(amount, places: currency.minorUnitDigits)
            else { return }
            count(.rules, rule, currency: code) {
                outcome(&$0, succeeded: true)
                $0.amount = $0.amount.addingSaturated(minor)
            }
        default: return
        }
    }

    /// `number` in units of `10^-places`, nil when that is not a whole `Int64`.
    static func scaled(_ number: Number, places: Int) -> Int64? {
        guard let scaled = try? number * Number(1, powerOfTen: places), scaled.isWhole,
            let value = scaled.intValue
        else { return nil }
        return Int64(value)
    }
}
