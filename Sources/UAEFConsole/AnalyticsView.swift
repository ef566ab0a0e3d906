import Foundation
import UAEFCore
import UAEFStore

/// What the analytics page shows: one dimension over a range of days, as charts of every key
/// together and a table of each key with its trend.
public struct AnalyticsView: Sendable {
    /// A link to another dimension or range.
    public struct Choice: Sendable {
        public var label: String
        public var href: String
        public var current: Bool
    }

    /// One key's line in the table.
    public struct Row: Sendable {
        public var key: String
        /// What people call the key (an agent's name rather than its id).
        public var label: String
        public var currency: String
        public var total: Int64
        public var succeeded: Int64
        public var failed: Int64
        public var cancelled: Int64
        public var successRate: String
        public var p50: String
        public var p95: String
        public var p99: String
        public var amount: String
        public var tokens: String
        public var trend: String
    }

    public var dimensions: [Choice]
    public var ranges: [Choice]
    /// `Runs by workflow`, say.
    public var heading: String
    public var rangeText: String
    public var outcomesChart: String
    public var durationsChart: String?
    public var amountCharts: [String]
    public var rows: [Row]
    public var hasAmounts: Bool
    public var hasTokens: Bool
    public var hasDurations: Bool
    public var nextHref: String?
    /// The first event not yet counted, for the note under the charts.
    public var countedBefore: Int64

    static let headings: [AnalyticsDimension: (label: String, heading: String, what: String)] = [
        .workflows: ("Workflows", "Runs by workflow", "runs"),
        .tasks: ("Tasks", "Attempts by task (workflow/task)", "attempts"),
        .agents: ("Agents", "Attempts by agent", "attempts"),
        .llmCosts: ("LLM cost", "Model calls and cost by llm agent", "calls"),
        .rules: ("Settlement rules", "Posted settlements by rule", "settlements"),
    ]
    /// The ranges offered, in days.
    public static let dayChoices = [1, 7, 30, 90]

    /// The page for `report` covering `days` to `end` (the next page of keys keeps both, so it
    /// covers the same range); `names` label keys (agent ids by name).
    public init(report: AnalyticsReport, days: Int, end: Date, countedBefore: Int64, names: [String: String]) {
        let dimension = report.dimension
        func href(_ dimension: AnalyticsDimension, days: Int) -> String {
            "/analytics?dimension=\(dimension.rawValue)&days=\(days)"
        }
        dimensions = AnalyticsDimension.allCases.map {
            Choice(label: Self.headings[$0]?.label ?? $0.rawValue, href: href($0, days: days), current: $0 == dimension)
        }
        ranges = Self.dayChoices.map {
            Choice(label: $0 == 1 ? "24 hours" : "\($0) days", href: href(dimension, days: $0), current: $0 == days)
        }
        let what = Self.headings[dimension]?.what ?? "events"
        heading = Self.headings[dimension]?.heading ?? dimension.rawValue
        let chart = AnalyticsChart(report: report)
        rangeText =
            "\(AnalyticsChart.minute(report.from)) to \(AnalyticsChart.minute(report.to)) UTC, per \(report.interval.rawValue)"
        let combined = report.combined?.points ?? []
        outcomesChart = chart.outcomes(combined, what: what)
        durationsChart = chart.durations(combined, what: what)
        hasAmounts = dimension == .llmCosts || dimension == .rules
        amountCharts =
            hasAmounts
            ? report.overall.map {
                chart.amounts($0.points, currency: $0.currency, what: dimension == .rules ? "settled" : "cost")
            } : []
        hasTokens = dimension == .llmCosts
        hasDurations = dimension != .rules
        rows = report.series.map { series in
            let summary = series.summary
            func elapsed(_ milliseconds: Int64?) -> String {
                milliseconds.map { ElapsedText.format(Double($0) / 1000) } ?? "—"
            }
            let label = names[series.key] ?? series.key
            return Row(
                key: series.key, label: label, currency: series.currency, total: summary.total,
                succeeded: summary.succeeded, failed: summary.failed, cancelled: summary.cancelled,
                successRate: summary.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "—",
                p50: elapsed(summary.p50), p95: elapsed(summary.p95), p99: elapsed(summary.p99),
                amount: summary.amountText.map { "\($0) \(series.currency)" } ?? "",
                tokens: summary.tokens > 0 ? "\(summary.tokens)" : "",
                trend: chart.sparkline(series.points, label: "\(label): \(what) per \(report.interval.rawValue)"))
        }
        nextHref = report.next.map {
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
            return href(dimension, days: days) + "&interval=\(report.interval.rawValue)&to="
                + encode(Timestamp.format(end)) + "&after=" + encode($0)
        }
        self.countedBefore = countedBefore
    }
}
