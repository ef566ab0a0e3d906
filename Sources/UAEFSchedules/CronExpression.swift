import Foundation

/// A five-field cron expression (minute, hour, day of month, month, day of week) as Vixie cron
/// and cronie read it: `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `8-18/2`), month and
/// weekday names (`JAN`, `mon`), 7 as Sunday, and the macros `@yearly` (`@annually`),
/// `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`.
///
/// When both the day of month and the day of week are restricted (neither field starts with
/// `*`), a day matches when either does, as in Vixie cron: `0 9 1 * MON` is the first of each
/// month and every Monday.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let description: String
    let minutes: FieldSet
    let hours: FieldSet
    let days: FieldSet
    let months: FieldSet
    /// 0 is Sunday.
    let weekdays: FieldSet
    /// Whether the day-of-month and day-of-week fields started with `*` (Vixie's rule for
    /// combining them).
    let daysStarred: Bool
    let weekdaysStarred: Bool

    /// Why an expression cannot be read, said for a person.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Reads an expression; the error names the field and what would be valid.
    public init(parsing text: String) throws(Invalid) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 200 else {
            throw Invalid(description: "a cron expression has at most 200 characters")
        }
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw Invalid(
                    description:
                        "\"\(trimmed)\" is not a cron macro; valid: \(Self.macros.keys.sorted().joined(separator: ", "))"
                )
            }
            expanded = macro
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw Invalid(
                description:
                    "\"\(trimmed)\" has \(fields.count) field\(fields.count == 1 ? "" : "s"); expected 5: minute hour day-of-month month day-of-week (e.g. \"30 2 * * MON-FRI\")"
            )
        }
        description = trimmed
        minutes = try FieldSet(fields[0], field: .minute)
        hours = try FieldSet(fields[1], field: .hour)
        days = try FieldSet(fields[2], field: .dayOfMonth)
        months = try FieldSet(fields[3], field: .month)
        weekdays = try FieldSet(fields[4], field: .dayOfWeek)
        daysStarred = fields[2].hasPrefix("*")
        weekdaysStarred = fields[4].hasPrefix("*")
    }

    /// Whether the expression matches a civil date (any time of it).
    func matchesDay(_ date: CivilDate) -> Bool {
        let day = days.contains(date.day)
        let weekday = weekdays.contains(date.weekday)
        return daysStarred || weekdaysStarred ? day && weekday : day || weekday
    }

    /// The first civil minute after `minute` that the expression matches, looking at most
    /// `years` years ahead; nil when none does (`0 0 30 2 *`).
    func nextMatch(after minute: CivilMinute, years: Int = 9) -> CivilMinute? {
        var date = minute.date
        var hour = minute.hour
        var next = minute.minute + 1
        let lastYear = date.year + years
        while date.year <= lastYear {
            guard months.contains(date.month) else {
                date = date.firstOfNextMonth
                (hour, next) = (0, 0)
                continue
            }
            guard matchesDay(date) else {
                date = date.nextDay
                (hour, next) = (0, 0)
                continue
            }
            if hour < 24, next < 60, hours.contains(hour), let found = minutes.first(from: next) {
                return CivilMinute(date: date, hour: hour, minute: found)
            }
            if let laterHour = hours.first(from: hour + 1), let found = minutes.first(from: 0) {
                return CivilMinute(date: date, hour: laterHour, minute: found)
            }
            date = date.nextDay
            (hour, next) = (0, 0)
        }
        return nil
    }
}

/// The values one cron field allows, as bits.
struct FieldSet: Sendable, Hashable {
    enum Field: String {
        case minute, hour
        case dayOfMonth = "day of month"
        case month
        case dayOfWeek = "day of week"

        var range: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            // 7 is Sunday too.
            case .dayOfWeek: 0...7
            }
        }

        var names: [String] {
            switch self {
            case .month: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            case .dayOfWeek: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
            default: []
            }
        }

        /// The number a name stands for (`JAN` 1, `SUN` 0), or nil.
        func value(named name: String) -> Int? {
            names.firstIndex(of: name.uppercased()).map { self == .month ? $0 + 1 : $0 }
        }
    }

    private(set) var bits: UInt64 = 0

    init(_ text: String, field: Field) throws(CronExpression.Invalid) {
        func invalid(_ why: String) -> CronExpression.Invalid {
            CronExpression.Invalid(description: "\(field.rawValue) field \"\(text)\": \(why)")
        }
        let range = field.range
        let valid =
            "numbers \(range.lowerBound)-\(range.upperBound)"
            + (field.names.isEmpty ? "" : " or names \(field.names.first!)-\(field.names.last!)")
        func number(_ text: Substring) throws(CronExpression.Invalid) -> Int {
            if let value = Int(text), range.contains(value) { return value }
            if let value = field.value(named: String(text)) { return value }
            throw invalid("\"\(text)\" is out of range; valid: \(valid)")
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else {
                throw invalid("\"\(item)\" is not a value, range or step")
            }
            var step = 1
            if parts.count == 2 {
                guard let value = Int(parts[1]), (1...range.upperBound).contains(value) else {
                    throw invalid("step \"\(parts[1])\" must be a number from 1 to \(range.upperBound)")
                }
                step = value
            }
            let bounds: ClosedRange<Int>
            if parts[0] == "*" {
                bounds = field == .dayOfWeek ? 0...6 : range
            } else if let dash = parts[0].firstIndex(of: "-") {
                let low = try number(parts[0][..<dash])
                let high = try number(parts[0][parts[0].index(after: dash)...])
                guard low <= high else { throw invalid("range \(parts[0]) runs backwards; write it low-high") }
                bounds = low...high
            } else {
                let value = try number(parts[0])
                guard parts.count == 1 else {
                    throw invalid("a step needs a range: write \(value)-\(range.upperBound)/\(step) or */\(step)")
                }
                bounds = value...value
            }
            for value in stride(from: bounds.lowerBound, through: bounds.upperBound, by: step) {
                bits |= 1 << UInt64(field == .dayOfWeek && value == 7 ? 0 : value)
            }
        }
    }

    func contains(_ value: Int) -> Bool { value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0 }

    /// The smallest allowed value at or above `value`, or nil.
    func first(from value: Int) -> Int? {
        guard value < 64 else { return nil }
        let above = bits & (UInt64.max << UInt64(max(0, value)))
        return above == 0 ? nil : above.trailingZeroBitCount
    }
}
