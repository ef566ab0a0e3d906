import Foundation
import UAEFCore

/// When a schedule's slots fall: the minutes a cron expression matches on a time zone's wall
/// clock, or a fixed interval on absolute time.
public enum ScheduleTimes: Sendable, Hashable {
    /// The minutes `expression` matches on `zone`'s wall clock. A daily time the clock skips
    /// (summer time starting) falls at the move; one it shows twice falls once, the first time.
    case cron(CronExpression, zone: Zone)
    /// Every `interval` from the Unix epoch, shifted by `offset` (less than the interval):
    /// `every: 15m` falls at :00, :15, :30 and :45 of every hour whatever the time zone.
    case every(Duration, offset: Duration)

    /// The shortest interval allowed: each slot starts a run.
    public static let shortestInterval = Duration.seconds(60)
    /// The longest interval allowed.
    public static let longestInterval = Duration.seconds(366 * 86_400)

    /// The first slot after `instant`, or nil when there is none in the next nine years.
    public func next(after instant: Date) -> Date? {
        switch self {
        case .cron(let expression, let named):
            let zone = named.zone
            var civil = zone.civilMinute(at: instant)
            // A minute the clock showed before (moving back) or skipped maps to an instant at or
            // before `instant`: go on to the first that maps after it.
            while let match = expression.nextMatch(after: civil) {
                let slot = zone.firstInstant(of: match)
                if slot > instant { return slot }
                civil = match
            }
            return nil
        case .every(let interval, let offset):
            let step = interval.milliseconds
            let shift = offset.milliseconds
            let now = Timestamp.milliseconds(instant) - shift
            let index = (now >= 0 ? now / step : (now - step + 1) / step) + 1
            return Timestamp.date(milliseconds: index * step + shift)
        }
    }

    /// The slots after `instant`, at most `count` of them.
    public func upcoming(after instant: Date, count: Int) -> [Date] {
        var slots: [Date] = []
        var last = instant
        while slots.count < count, let slot = next(after: last) {
            slots.append(slot)
            last = slot
        }
        return slots
    }

    /// A time zone by the IANA name it was given as (`UTC`, `Europe/Berlin`).
    public struct Zone: Sendable, Hashable {
        public let name: String
        let zone: TimeZone

        /// The zone of this exact name (`UTC` too), or nil; never an abbreviation such as `EST`.
        public init?(named name: String) {
            guard name == "UTC" || Self.known.contains(name),
                let zone = TimeZone(identifier: name)
            else { return nil }
            self.name = name
            self.zone = zone
        }

        public static let utc = Zone(named: "UTC")!
        private static let known = Set(TimeZone.knownTimeZoneIdentifiers)
    }
}
