import Foundation

/// A date on the proleptic Gregorian calendar, without a time zone.
struct CivilDate: Sendable, Hashable {
    var year: Int
    var month: Int
    var day: Int

    /// Days since 1970-01-01 (negative before it); Howard Hinnant's `days_from_civil`.
    var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01; Hinnant's `civil_from_days`.
    init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shifted + 2) / 5 + 1
        month = shifted < 10 ? shifted + 3 : shifted - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// 0 is Sunday (1970-01-01 was a Thursday).
    var weekday: Int {
        let remainder = (daysSinceEpoch + 4) % 7
        return remainder < 0 ? remainder + 7 : remainder
    }

    var nextDay: CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + 1) }

    var firstOfNextMonth: CivilDate {
        month == 12 ? CivilDate(year: year + 1, month: 1, day: 1) : CivilDate(year: year, month: month + 1, day: 1)
    }
}

/// A minute of a civil date: what a wall clock shows, in no particular time zone.
struct CivilMinute: Sendable, Hashable {
    var date: CivilDate
    var hour: Int
    var minute: Int

    /// Seconds since 1970-01-01T00:00 as if the wall clock were UTC.
    var seconds: Int { date.daysSinceEpoch * 86_400 + hour * 3_600 + minute * 60 }

    /// The wall clock's minute at `seconds` as if it were UTC (floored to the minute).
    init(seconds: Int) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        date = CivilDate(daysSinceEpoch: days)
        hour = rest / 3_600
        minute = rest % 3_600 / 60
    }

    init(date: CivilDate, hour: Int, minute: Int) {
        self.date = date
        self.hour = hour
        self.minute = minute
    }
}

extension TimeZone {
    /// The wall clock's minute here at `instant`.
    func civilMinute(at instant: Date) -> CivilMinute {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down))
        return CivilMinute(seconds: seconds + secondsFromGMT(for: instant))
    }

    /// The instant the wall clock here first shows `civil`. A minute the clock skips (moving
    /// forward, as at the start of summer time) is taken as the instant of the move: the
    /// clock's first minute after it. A minute it shows twice (moving back) is its first.
    func firstInstant(of civil: CivilMinute) -> Date {
        let local = civil.seconds
        // Any instant showing `civil` lies within a day of `local`; the offsets a day either side
        // are those before and after any move near it.
        let offsets = Set(
            [-86_400, 0, 86_400].map { secondsFromGMT(for: Date(timeIntervalSince1970: Double(local + $0))) })
        let instants = offsets.map { local - $0 }.filter {
            secondsFromGMT(for: Date(timeIntervalSince1970: Double($0))) == local - $0
        }
        if let first = instants.min() { return Date(timeIntervalSince1970: Double(first)) }
        // Skipped: the move happened between the instant `civil` would be under the offset after
        // it and the one under the offset before it; find its second.
        var low = local - (offsets.max() ?? 0)
        var high = local - (offsets.min() ?? 0)
        let before = secondsFromGMT(for: Date(timeIntervalSince1970: Double(low)))
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if secondsFromGMT(for: Date(timeIntervalSince1970: Double(middle))) == before {
                low = middle
            } else {
                high = middle
            }
        }
        return Date(timeIntervalSince1970: Double(high))
    }
}
