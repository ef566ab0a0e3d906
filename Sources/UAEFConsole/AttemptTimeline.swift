import Foundation

/// A run's attempts as an SVG Gantt chart: one row per attempt, a bar from its start to its end
/// (to `now` while it runs) on an axis from the run's start, coloured and titled by its outcome.
public struct AttemptTimeline: Sendable {
    /// One bar.
    public struct Bar: Sendable, Hashable {
        /// `key #number`, shown left of the bar.
        public var label: String
        /// An ``AttemptStatus`` raw value, which picks the bar's colour.
        public var status: String
        public var start: Date
        public var end: Date?

        public init(label: String, status: String, start: Date, end: Date?) {
            self.label = label
            self.status = status
            self.start = start
            self.end = end
        }
    }

    public var origin: Date
    public var now: Date
    public var bars: [Bar]

    public init(origin: Date, now: Date, bars: [Bar]) {
        self.origin = origin
        self.now = now
        self.bars = bars
    }

    static let labelWidth = 200
    static let chartWidth = 640
    static let rowHeight = 20
    static let axisHeight = 22

    /// The chart as an inline SVG element.
    public func svg() -> String {
        let ends = bars.map { $0.end ?? now }
        let span = max(0.001, ((ends.max() ?? now).timeIntervalSince(origin)))
        let width = Self.labelWidth + Self.chartWidth + 110
        let height = Self.axisHeight + bars.count * Self.rowHeight + 4
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            role="img" aria-label="Attempt timeline: \(bars.count) attempts over \(ElapsedText.format(span))">
            """
        for tick in 0...4 {
            let x = Self.labelWidth + Self.chartWidth * tick / 4
            svg += "<line class=\"axis\" x1=\"\(x)\" y1=\"\(Self.axisHeight - 4)\" x2=\"\(x)\" y2=\"\(height)\"/>"
            svg +=
                "<text x=\"\(x)\" y=\"12\" text-anchor=\"middle\">\(ElapsedText.format(span * Double(tick) / 4))</text>"
        }
        for (row, bar) in bars.enumerated() {
            let y = Self.axisHeight + row * Self.rowHeight
            let startOffset = max(0, bar.start.timeIntervalSince(origin))
            let length = max(0, (bar.end ?? now).timeIntervalSince(bar.start))
            let x = Self.labelWidth + Int((startOffset / span * Double(Self.chartWidth)).rounded())
            let barWidth = max(2, Int((length / span * Double(Self.chartWidth)).rounded()))
            let title =
                "\(bar.label): \(bar.status), \(ElapsedText.format(length)) from +\(ElapsedText.format(startOffset))"
            svg += "<g><title>\(HTML.escape(title))</title>"
            svg += "<text x=\"4\" y=\"\(y + 14)\">\(HTML.escape(bar.label))</text>"
            svg +=
                "<rect class=\"bar s-\(HTML.escape(bar.status))\" x=\"\(x)\" y=\"\(y + 4)\" width=\"\(barWidth)\" height=\"\(Self.rowHeight - 8)\" rx=\"2\"/>"
            svg += "<text x=\"\(x + barWidth + 4)\" y=\"\(y + 14)\">\(HTML.escape(bar.status))</text></g>"
        }
        return svg + "</svg>"
    }
}

/// Durations as people read them: `840 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`.
public enum ElapsedText {
    public static func format(_ seconds: Double) -> String {
        switch seconds {
        case ..<1: "\(Int((seconds * 1000).rounded())) ms"
        case ..<60: "\((seconds * 10).rounded() / 10) s"
        case ..<3600: "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
        default: "\(Int(seconds) / 3600) h \(Int(seconds) % 3600 / 60) min"
        }
    }
}
