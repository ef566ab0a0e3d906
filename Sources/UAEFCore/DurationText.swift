/// Durations as workflow files write them: a whole number and a unit, `250ms`, `10s`, `5m`, `2h`.
public enum DurationText {
    /// What a valid duration looks like, for error messages.
    public static let expectation = "a whole number with a unit: ms, s, m or h (e.g. 250ms, 10s, 5m, 2h)"

    /// Parses `text`, or returns nil when it is not a duration.
    public static func parse(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, let amount = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": return .milliseconds(amount)
        case "s": return .seconds(amount)
        case "m": return .seconds(amount * 60)
        case "h": return .seconds(amount * 3600)
        default: return nil
        }
    }

    /// Formats a duration in the largest unit that represents it exactly.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}

extension Duration {
    /// The duration in whole milliseconds, truncated.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds, as `Date` arithmetic takes it.
    public var timeInterval: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
