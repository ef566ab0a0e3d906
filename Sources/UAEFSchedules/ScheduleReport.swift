import Foundation
import UAEFCore
import UAEFStore

/// The JSON shape of a schedule shared by `uaef schedules … --json`, the API and its OpenAPI
/// document: the definition's keys (as in a `schedules:` file) and where its firing stands.
public enum ScheduleReport {
    /// `{…definition, "paused", "note", "next_at", "buffered", "last_slot", "last_run",
    /// "last_error", "created_at", "updated_at", "updated_by", "upcoming"}`; `buffered` says that
    /// `next_at` is a slot held until `last_run` ends; `upcoming` holds the next `upcoming` slots
    /// (none while paused).
    public static func json(_ record: ScheduleRecord, upcoming: Int = 0) -> JSONValue {
        var members = record.definition
        func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
        members["name"] = .string(record.name)
        members["paused"] = .bool(record.paused)
        members["note"] = record.note.map(JSONValue.string) ?? .null
        members["next_at"] = record.paused ? .null : time(record.nextAt)
        members["buffered"] = .bool(record.buffered)
        members["last_slot"] = time(record.lastSlot)
        members["last_run"] = record.lastRun.map { .string($0.rawValue) } ?? .null
        members["last_error"] = record.lastError.map(JSONValue.string) ?? .null
        members["created_at"] = time(record.createdAt)
        members["updated_at"] = time(record.updatedAt)
        members["updated_by"] = .string(record.updatedBy)
        if upcoming > 0 {
            members["upcoming"] = .array(slots(record, count: upcoming).map { .string(Timestamp.format($0)) })
        }
        return .object(members)
    }

    /// The schedule's next `count` slots from its next one; none while paused.
    public static func slots(_ record: ScheduleRecord, count: Int) -> [Date] {
        guard !record.paused, let next = record.nextAt,
            let definition = try? ScheduleDefinition(stored: record.definition, name: record.name)
        else { return [] }
        return [next] + definition.times.upcoming(after: next, count: count - 1)
    }

    /// The times in a line of text: `cron "30 2 * * *" Europe/Berlin` or `every 15m`.
    public static func times(_ record: ScheduleRecord) -> String {
        if let cron = record.definition["cron"]?.stringValue {
            return "cron \"\(cron)\" \(record.definition["time_zone"]?.stringValue ?? "UTC")"
        }
        let offset = record.definition["offset"]?.stringValue.map { " offset \($0)" } ?? ""
        return "every \(record.definition["every"]?.stringValue ?? "?")\(offset)"
    }
}
