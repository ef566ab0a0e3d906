import Foundation
import UAEFCore
import UAEFStore

/// What the schedules page shows: each schedule of the tenant with its workflow, times, state,
/// next slots and last run, and the actions the principal may take (pause, resume, trigger).
public struct SchedulesView: Sendable {
    /// One schedule.
    public struct Row: Sendable {
        public var name: String
        public var workflow: String
        /// `cron "30 2 * * *" Europe/Berlin` or `every 15m`.
        public var times: String
        public var overlap: String
        public var paused: Bool
        public var note: String?
        /// The next slot is held until the last run ends (overlap `buffer_one`, `buffer_all`).
        public var held: Bool
        /// The next slots, soonest first; empty while paused.
        public var upcoming: [String]
        public var lastSlot: String?
        public var lastRun: String?
        public var lastError: String?
        public var mayManage: Bool
        public var csrf: String
    }

    public var schedules: [Row]
    /// What the last form did (a backfill's outcome, or why it was refused).
    public var notice: String?
    public var noticeIsError: Bool

    /// The view of `schedules`, each with its times in a line (`times`) and its next slots
    /// (`upcoming`), by name; `mayManage` offers pause, resume, trigger and backfill.
    public init(
        schedules: [(record: ScheduleRecord, times: String, upcoming: [Date])], mayManage: Bool, csrf: String,
        notice: String? = nil, noticeIsError: Bool = false
    ) {
        self.notice = notice
        self.noticeIsError = noticeIsError
        self.schedules = schedules.map { schedule in
            let record = schedule.record
            return Row(
                name: record.name, workflow: record.definition["workflow"]?.stringValue ?? "",
                times: schedule.times, overlap: record.definition["overlap"]?.stringValue ?? "skip",
                paused: record.paused, note: record.note, held: record.buffered,
                upcoming: schedule.upcoming.map(Timestamp.format),
                lastSlot: record.lastSlot.map(Timestamp.format), lastRun: record.lastRun?.rawValue,
                lastError: record.lastError, mayManage: mayManage, csrf: csrf)
        }
    }
}
