import ArgumentParser
import Foundation
import UAEFCore
import UAEFStore

/// `uaef analytics DIMENSION`: the same figures as `GET /v1/analytics/{dimension}` and the
/// console's analytics page, read from the store (after counting the events no server has
/// counted yet).
struct AnalyticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics",
        abstract: "Throughput, success rates, durations and cost over time, from the event log.",
        discussion: """
            Dimensions: workflows (runs by workflow), tasks (attempts by workflow/task), agents (attempts by \
            agent id), llm-costs (model calls, tokens and cost by llm agent), rules (posted settlements by rule). \
            The figures come from hourly and daily buckets kept from the event log; this command first counts \
            any events not counted yet (uaef serve does so continuously), so it writes to the store. \
            Durations are within 4.5%. Exit 2 for a bad option.
            """)

    @Argument(help: "What to count: \(AnalyticsDimension.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dimension: String
    @Option(help: "Whole days back from --to (1 to \(AnalyticsQuery.dayRange.upperBound)).") var days: Int?
    @Option(help: "The end of the range, an RFC 3339 time (default: now).") var to: String?
    @Option(help: "hour (up to \(AnalyticsQuery.hourlyDays) days; the default up to 2) or day.") var interval: String?
    @Option(help: "Keys after this one (the previous page's next).") var after: String?
    @Option(help: "Keys at most (1 to \(AnalyticsReport.maximumLimit)).") var limit: Int?
    @Flag(help: "Print JSON, as GET /v1/analytics/{dimension} answers.") var json = false
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        guard let dimension = try Console.choice(dimension, option: "dimension", as: AnalyticsDimension.self) else {
            return
        }
        let options = [
            "days": days.map(String.init), "to": to, "interval": interval, "after": after,
            "limit": limit.map(String.init),
        ]
        let query: AnalyticsQuery
        do {
            query = try AnalyticsQuery(dimension: dimension, query: { options[$0] ?? nil }, now: Date())
        } catch let invalid as AnalyticsQuery.Invalid {
            // `days=0 must be …` as the option is written: `--days 0 must be …`.
            let text = invalid.description
            throw CLIError.usage(
                "--" + text.replacingCharacters(in: text.range(of: "=") ?? text.startIndex..<text.startIndex, with: " ")
            )
        }
        let store = try await storeOptions.open()
        try await AnalyticsRollup(store: store).catchUp()
        let (report, cursor) = try await store.analytics(query, tenant: storeOptions.tenant)
        if json {
            Console.printJSON(report.json(countedBefore: cursor))
            return
        }
        print(
            "\(dimension.rawValue), \(Timestamp.format(report.from)) to \(Timestamp.format(report.to)), per \(report.interval.rawValue) (events before \(cursor) counted)"
        )
        if report.series.isEmpty { print("  nothing was counted in this range") }
        for series in report.series {
            let summary = series.summary
            var line =
                "  \(series.key): \(summary.total) (\(summary.succeeded) succeeded, \(summary.failed) failed, \(summary.cancelled) cancelled)"
            if let rate = summary.successRate { line += String(format: ", %.1f%% success", rate * 100) }
            if let p50 = summary.p50, let p95 = summary.p95, let p99 = summary.p99 {
                line += ", p50 \(p50) ms, p95 \(p95) ms, p99 \(p99) ms"
            }
            if let amount = summary.amountText { line += ", \(amount) \(series.currency)" }
            if summary.tokens > 0 { line += ", \(summary.tokens) tokens" }
            print(line)
        }
        if let next = report.next { print("more: --after \(next)") }
    }
}
