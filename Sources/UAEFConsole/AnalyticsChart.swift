import Foundation
import UAEFCore
import UAEFStore

/// Analytics as inline SVG: one slot per interval of the range, empty intervals included, so
/// gaps show as gaps. Every mark has a `<title>` and every chart an `aria-label`; the page's
/// table holds the same numbers for those who do not see the chart.
public struct AnalyticsChart: Sendable {
    /// The first instant of each slot.
    public var slots: [Date]
    public var interval: AnalyticsInterval

    /// The slots of `report`'s range.
    public init(report: AnalyticsReport) {
        interval = report.interval
        let step = Double(report.interval.hours) * 3600
        slots = Array(
            stride(from: report.from.timeIntervalSince1970, to: report.to.timeIntervalSince1970, by: step).map(
                Date.init(timeIntervalSince1970:)))
    }

    static let width = 720
    static let height = 160
    static let left = 56
    static let bottom = 22

    /// Points by slot index.
    func bySlot(_ points: [AnalyticsPoint]) -> [Int: AnalyticsPoint] {
        guard let first = slots.first else { return [:] }
        let step = Double(interval.hours) * 3600
        var slotted: [Int: AnalyticsPoint] = [:]
        for point in points {
            let index = Int((point.start.timeIntervalSince(first) / step).rounded(.down))
            if slots.indices.contains(index) { slotted[index] = point }
        }
        return slotted
    }

    /// How a slot is named in titles: `2026-12-04 10:00` hourly, `2026-12-04` daily.
    func label(_ slot: Date) -> String {
        interval == .hour ? Self.minute(slot) : String(Self.minute(slot).prefix(10))
    }

    /// `2026-12-04 10:00`, in UTC.
    static func minute(_ time: Date) -> String {
        String(Timestamp.format(time).prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    private func frame(_ description: String, maximum: String) -> String {
        let plotBottom = Self.height - Self.bottom
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.width)" height="\(Self.height)" \
            viewBox="0 0 \(Self.width) \(Self.height)" role="img" aria-label="\(HTML.escape(description))">
            <line class="axis" x1="\(Self.left)" y1="8" x2="\(Self.left)" y2="\(plotBottom)"/>\
            <line class="axis" x1="\(Self.left)" y1="\(plotBottom)" x2="\(Self.width)" y2="\(plotBottom)"/>\
            <text x="\(Self.left - 4)" y="16" text-anchor="end">\(HTML.escape(maximum))</text>\
            <text x="\(Self.left - 4)" y="\(plotBottom)" text-anchor="end">0</text>
            """
        if let first = slots.first, let last = slots.last {
            svg += "<text x=\"\(Self.left)\" y=\"\(Self.height - 6)\">\(label(first))</text>"
            svg += "<text x=\"\(Self.width)\" y=\"\(Self.height - 6)\" text-anchor=\"end\">\(label(last))</text>"
        }
        return svg
    }

    /// Stacked bars of succeeded, failed and cancelled per slot.
    public func outcomes(_ points: [AnalyticsPoint], what: String) -> String {
        let slotted = bySlot(points)
        let maximum = max(1, slotted.values.map(\.total).max() ?? 0)
        let plot = Double(Self.height - Self.bottom - 8)
        let slotWidth = Double(Self.width - Self.left) / Double(max(1, slots.count))
        let total = points.reduce(Int64(0)) { $0.addingSaturated($1.total) }
        var svg = frame(
            "\(what) per \(interval.rawValue): \(total) in all, at most \(maximum) in one", maximum: "\(maximum)")
        for (index, point) in slotted.sorted(by: { $0.key < $1.key }) {
            let x = Double(Self.left) + Double(index) * slotWidth + 1
            var y = Double(Self.height - Self.bottom)
            svg +=
                "<g><title>\(label(slots[index])): \(point.total) \(what), \(point.succeeded) succeeded, \(point.failed) failed, \(point.cancelled) cancelled</title>"
            for (count, status) in [
                (point.succeeded, "succeeded"), (point.failed, "failed"), (point.cancelled, "cancelled"),
            ]
            where count > 0 {
                let height = Double(count) / Double(maximum) * plot
                y -= height
                svg +=
                    "<rect class=\"bar s-\(status)\" x=\"\(Self.format(x))\" y=\"\(Self.format(y))\" width=\"\(Self.format(max(1, slotWidth - 2)))\" height=\"\(Self.format(height))\"/>"
            }
            svg += "</g>"
        }
        return svg + "</svg>"
    }

    /// Lines of the p50 and p95 durations per slot, for slots with durations.
    public func durations(_ points: [AnalyticsPoint], what: String) -> String? {
        let slotted = bySlot(points).filter { $0.value.p95 != nil }
        guard let maximum = slotted.values.compactMap(\.p95).max() else { return nil }
        let top = max(1, maximum)
        let plot = Double(Self.height - Self.bottom - 8)
        let slotWidth = Double(Self.width - Self.left) / Double(max(1, slots.count))
        var svg = frame(
            "\(what) durations per \(interval.rawValue), p50 and p95, at most \(ElapsedText.format(Double(top) / 1000))",
            maximum: ElapsedText.format(Double(top) / 1000))
        for (name, value) in [("p50", \AnalyticsPoint.p50), ("p95", \AnalyticsPoint.p95)] {
            let marks = slotted.sorted { $0.key < $1.key }.compactMap { index, point -> (Double, Double, String)? in
                guard let milliseconds = point[keyPath: value] else { return nil }
                let x = Double(Self.left) + (Double(index) + 0.5) * slotWidth
                let y = Double(Self.height - Self.bottom) - Double(milliseconds) / Double(top) * plot
                return (x, y, "\(label(slots[index])): \(name) \(ElapsedText.format(Double(milliseconds) / 1000))")
            }
            svg +=
                "<polyline class=\"line \(name)\" points=\"\(marks.map { "\(Self.format($0.0)),\(Self.format($0.1))" }.joined(separator: " "))\"/>"
            for mark in marks {
                svg +=
                    "<circle class=\"dot \(name)\" cx=\"\(Self.format(mark.0))\" cy=\"\(Self.format(mark.1))\" r=\"3\"><title>\(HTML.escape(mark.2))</title></circle>"
            }
        }
        return svg + "</svg>"
    }

    /// Bars of the amount per slot (cost or settled money) in `currency`.
    public func amounts(_ points: [AnalyticsPoint], currency: String, what: String) -> String {
        let slotted = bySlot(points)
        let maximum = slotted.values.compactMap(\.amount).max() ?? Number(0)
        let top = max(Double("\(maximum)") ?? 0, 1e-9)
        let plot = Double(Self.height - Self.bottom - 8)
        let slotWidth = Double(Self.width - Self.left) / Double(max(1, slots.count))
        var svg = frame(
            "\(what) per \(interval.rawValue) in \(currency), at most \(maximum) in one",
            maximum: "\(maximum) \(currency)")
        for (index, point) in slotted.sorted(by: { $0.key < $1.key }) {
            guard let amount = point.amount, let value = Double("\(amount)"), value > 0 else { continue }
            let height = max(1, value / top * plot)
            let x = Double(Self.left) + Double(index) * slotWidth + 1
            svg += "<g><title>\(label(slots[index])): \(point.amountText ?? "") \(HTML.escape(currency))</title>"
            svg +=
                "<rect class=\"bar amount\" x=\"\(Self.format(x))\" y=\"\(Self.format(Double(Self.height - Self.bottom) - height))\" width=\"\(Self.format(max(1, slotWidth - 2)))\" height=\"\(Self.format(height))\"/></g>"
        }
        return svg + "</svg>"
    }

    /// A small bar chart of totals per slot, for a table row.
    public func sparkline(_ points: [AnalyticsPoint], label: String) -> String {
        let slotted = bySlot(points)
        let maximum = max(1, slotted.values.map(\.total).max() ?? 0)
        let width = 120.0
        let height = 24.0
        let slotWidth = width / Double(max(1, slots.count))
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"24\" viewBox=\"0 0 120 24\" role=\"img\" aria-label=\"\(HTML.escape(label))\">"
        for (index, point) in slotted.sorted(by: { $0.key < $1.key }) where point.total > 0 {
            let barHeight = max(1, Double(point.total) / Double(maximum) * height)
            svg +=
                "<rect class=\"spark\" x=\"\(Self.format(Double(index) * slotWidth))\" y=\"\(Self.format(height - barHeight))\" width=\"\(Self.format(max(0.5, slotWidth - 0.5)))\" height=\"\(Self.format(barHeight))\"/>"
        }
        return svg + "</svg>"
    }

    /// A coordinate with at most one decimal.
    static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
