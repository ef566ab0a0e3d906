import Foundation

/// RFC 3339 UTC timestamps with milliseconds, as events and JSON output carry them.
public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// `2026-11-26T10:49:52.123Z`.
    public static func format(_ date: Date) -> String { style.format(date) }

    /// The date of an RFC 3339 UTC timestamp, or nil.
    public static func parse(_ text: String) -> Date? { try? style.parse(text) }

    /// Whole milliseconds since 1970, the form the stores keep times in.
    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The date of a milliseconds-since-1970 value.
    public static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
