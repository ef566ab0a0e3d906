import Foundation
import Testing
import UAEFCore
import UAEFStore
import UAEFTestSupport

@Suite("Analytics: duration histograms")
struct DurationHistogramTests {
    @Test("percentiles of 1…10,000 ms land within 4.5% of the exact ones; 0 ms has a bucket of its own")
    func percentiles() throws {
        var histogram = DurationHistogram()
        for milliseconds in 1...10_000 { histogram.record(milliseconds: Int64(milliseconds)) }
        for (fraction, exact) in [(0.5, 5_000.0), (0.95, 9_500.0), (0.99, 9_900.0)] {
            let reported = Double(try #require(histogram.percentile(fraction)))
            #expect(abs(reported - exact) / exact < 0.045, "p\(Int(fraction * 100)) was \(reported)")
        }
        var zeros = DurationHistogram()
        zeros.record(milliseconds: 0)
        zeros.record(milliseconds: -5)
        #expect(zeros.percentile(0.99) == 0 && zeros.count == 2)
        #expect(DurationHistogram().percentile(0.5) == nil)
    }

    @Test("the stored text reads back the same; anything else is refused; counts saturate instead of wrapping")
    func text() throws {
        var histogram = DurationHistogram()
        for milliseconds: Int64 in [3, 3, 250, 1_000_000, .max] { histogram.record(milliseconds: milliseconds) }
        #expect(DurationHistogram(text: histogram.text) == histogram)
        #expect(DurationHistogram(text: "") == DurationHistogram())
        for bad in ["1", "a:2", "1:-1", "99999:1", "1:2,", "3:1,2:1", "1:2:3", ":1", "1:", "1:99999999999999999999"] {
            #expect(DurationHistogram(text: bad) == nil, "\(bad)")
        }
        var full = try #require(DurationHistogram(text: "1:\(Int64.max)"))
        full.merge(try #require(DurationHistogram(text: "1:5")))
        #expect(full.count == .max)
    }
}

@Suite("Analytics: hourly buckets kept from the event log, on SQLite and PostgreSQL")
struct AnalyticsStoreTests {
    /// The start of an hour in January 2027.
    let hour = Date(timeIntervalSince1970: 1_800_000_000 - 1_800_000_000.truncatingRemainder(dividingBy: 3600))

    func event(
        _ type: String, tenant: String = "acme", minutes: Double, subject: String = "run_1", _ data: [String: JSONValue]
    ) -> EventDraft {
        EventDraft(
            id: "evt_\(UUID().uuidString)", time: hour.addingTimeInterval(minutes * 60), type: type, actor: "engine",
            tenant: tenant, subject: subject, data: data)
    }

    /// Two hours of acme's work and one event of globex's.
    var events: [EventDraft] {
        [
            event("run.succeeded", minutes: 1, ["workflow": "invoice", "duration_ms": 1_000]),
            event("run.succeeded", minutes: 2, ["workflow": "invoice", "duration_ms": 3_000]),
            event("run.failed", minutes: 70, ["workflow": "invoice", "duration_ms": 9_000, "error": "boom"]),
            event("run.cancelled", minutes: 71, ["workflow": "invoice", "duration_ms": 50]),
            event("run.succeeded", minutes: 3, ["workflow": "audit"]),
            event(
                "task.succeeded", minutes: 1,
                ["workflow": "invoice", "task": "extract", "agent": "agt_a", "duration_ms": 400, "attempt": 2]),
            event(
                "task.retry_scheduled", minutes: 1,
                ["workflow": "invoice", "task": "extract", "agent": "agt_a", "duration_ms": 100, "attempt": 1]),
            event("task.failed", minutes: 2, ["attempt": 0, "error": "with: bad"]),
            event(
                "llm.call", minutes: 5,
                [
                    "agent": "clerk", "latency_ms": 800, "input_tokens": 1_000, "output_tokens": 200,
                    "cache_read_tokens": 50, "cost": .number(Number(123_456, powerOfTen: -9)), "currency": "USD",
                ]),
            event("settlement.posted", minutes: 6, ["rule": "fee", "amount": "1250.50", "currency": "EUR"]),
            event("settlement.posted", minutes: 75, ["rule": "fee", "amount": "0.05", "currency": "EUR"]),
            event("settlement.posted", minutes: 7, ["rule": "fee", "amount": "300", "currency": "JPY"]),
            event("settlement.posted", minutes: 8, ["rule": "old"]),
            event("run.succeeded", tenant: "globex", minutes: 1, ["workflow": "invoice", "duration_ms": 5]),
        ]
    }

    func commit(_ events: [EventDraft], to store: any WorkflowStore) async throws {
        var changes = ChangeSet()
        changes.events = events
        try await store.commit(changes)
    }

    func report(
        _ dimension: AnalyticsDimension, tenant: String = "acme", interval: AnalyticsInterval = .hour,
        after: String? = nil, limit: Int = 50, in store: any WorkflowStore
    ) async throws -> AnalyticsReport {
        let first = AnalyticsBucketKey.hour(of: hour)
        let day = AnalyticsBucketKey.day(of: first)
        let hours = interval == .hour ? (first - 1)...(first + 2) : day...(day + 23)
        return AnalyticsReport(
            dimension: dimension, hours: hours, interval: interval,
            buckets: try await store.analyticsBuckets(
                tenant: tenant, dimension: dimension, span: interval, hours: hours, after: after, keys: limit + 1),
            totals: try await store.analyticsTotals(tenant: tenant, dimension: dimension, span: interval, hours: hours),
            limit: limit)
    }

    @Test(
        "runs, attempts, model calls and settlements are counted per hour and key with their durations and exact amounts",
        arguments: StoreBackend.allCases)
    func counts(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        try await commit(events, to: store)
        let rollup = AnalyticsRollup(store: store, batchSize: 4)
        #expect(try await rollup.catchUp() == events.count)
        #expect(try await store.analyticsCursor() == Int64(events.count))

        let workflows = try await report(.workflows, in: store)
        #expect(workflows.series.map(\.key) == ["audit", "invoice"])
        let invoice = try #require(workflows.series.last)
        #expect(invoice.summary.total == 4 && invoice.summary.succeeded == 2)
        #expect(invoice.summary.failed == 1 && invoice.summary.cancelled == 1)
        #expect(invoice.summary.successRate == 2.0 / 3.0, "cancelled runs are left out of the rate")
        #expect(invoice.points.map(\.total) == [2, 2], "two hours")
        #expect(invoice.points.first?.start == hour)
        let p50 = try #require(invoice.points.first?.p50)
        #expect(abs(Double(p50) - 1_000) / 1_000 < 0.045)
        #expect(workflows.series.first?.summary.p50 == nil, "an event without duration_ms counts without one")
        #expect(workflows.overall.map(\.summary.total) == [5] && workflows.combined?.summary.total == 5)
        #expect(workflows.combined?.points.map(\.total) == [3, 2])

        let tasks = try await report(.tasks, in: store)
        #expect(tasks.series.map(\.key) == ["invoice/extract"])
        #expect(tasks.series.first?.summary.succeeded == 1 && tasks.series.first?.summary.failed == 1)
        let agents = try await report(.agents, in: store)
        #expect(agents.series.map(\.key) == ["agt_a"] && agents.series.first?.summary.total == 2)

        let costs = try await report(.llmCosts, in: store)
        #expect(costs.series.first?.summary.amountText == "0.000123456" && costs.series.first?.currency == "USD")
        #expect(costs.series.first?.summary.tokens == 1_250)

        let rules = try await report(.rules, interval: .day, in: store)
        #expect(rules.series.map { "\($0.key) \($0.currency)" } == ["fee EUR", "fee JPY"])
        #expect(rules.series.first?.summary.amountText == "1250.55" && rules.series.first?.summary.total == 2)
        #expect(rules.series.first?.points.count == 1, "one day")
        let daily = try await report(.workflows, interval: .day, in: store)
        let dailyCounts = daily.series.last.map { [$0.summary.total, $0.summary.succeeded, $0.summary.cancelled] }
        #expect(dailyCounts == [4, 2, 1], "days count what their hours count")
        #expect(daily.series.last?.points.count == 1 && daily.series.last?.points.first?.total == 4)
        #expect(rules.series.last?.summary.amountText == "300")
        #expect(
            rules.overall.map(\.currency) == ["EUR", "JPY"] && rules.overall.first?.summary.amountText == "1250.55")
        #expect(rules.combined?.summary.total == 3 && rules.combined?.summary.amountText == nil, "currencies apart")

        let globex = try await report(.workflows, tenant: "globex", in: store)
        #expect(globex.series.map(\.summary.total) == [1], "tenants are counted apart")
    }

    @Test(
        "counting again, or from two processes at once, counts each event once; later events add to the same hour",
        arguments: StoreBackend.allCases)
    func once(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        try await commit(events, to: store)
        let counted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 { group.addTask { try await AnalyticsRollup(store: store, batchSize: 3).catchUp() } }
            return try await group.reduce(0, +)
        }
        #expect(counted == events.count)
        #expect(try await AnalyticsRollup(store: store).catchUp() == 0)
        try await commit(
            [event("run.succeeded", minutes: 30, ["workflow": "invoice", "duration_ms": 2_000])], to: store)
        #expect(try await AnalyticsRollup(store: store).catchUp() == 1)
        let invoice = try #require(try await report(.workflows, in: store).series.last)
        #expect(invoice.summary.total == 5 && invoice.points.map(\.total) == [3, 2])
    }

    @Test("pages of keys: limit keys per page, next names the last, after continues", arguments: StoreBackend.allCases)
    func pages(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend)
        defer { location.remove() }
        let store = try await location.open()
        try await commit(
            ["a", "B", "c", "d"].map { event("run.succeeded", minutes: 1, ["workflow": .string($0)]) }, to: store)
        try await AnalyticsRollup(store: store).catchUp()
        let first = try await report(.workflows, limit: 3, in: store)
        #expect(first.series.map(\.key) == ["B", "a", "c"] && first.next == "c")
        let second = try await report(.workflows, after: first.next, limit: 3, in: store)
        #expect(second.series.map(\.key) == ["d"] && second.next == nil)
    }
}
