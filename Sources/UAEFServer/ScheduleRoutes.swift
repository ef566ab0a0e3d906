import Foundation
import Hummingbird
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// `/v1/schedules`: the tenant's schedules. Any reader lists and reads them; saving, pausing,
/// resuming, triggering and removing start or stop runs, so they need `manageSchedules`
/// (operators and admins). Every change is a ledger event.
struct ScheduleRoutes {
    let operations: APIOperations
    let bodyLimit: Int

    func add(to group: RouterGroup<APIContext>) {
        group.post("schedules") { request, context in
            let principal = try context.require(.manageSchedules)
            let text = try await JSONMessage.text(of: request, limit: bodyLimit)
            let applied = try await registry(principal.tenant).apply(text, file: "request body", actor: principal.actor)
            return JSONMessage.response(
                [
                    "saved": .array(applied.saved.map { ScheduleReport.json($0) }),
                    "unchanged": .array(applied.unchanged.map(JSONValue.string)),
                ], status: .created)
        }
        group.get("schedules") { _, context in
            let principal = try context.require(.read)
            return JSONMessage.response(try await operations.schedules(tenant: principal.tenant))
        }
        group.get("schedules/:name") { request, context in
            let principal = try context.require(.read)
            let upcoming = try request.integerQuery("upcoming", in: 0...100) ?? 5
            return JSONMessage.response(ScheduleReport.json(try await schedule(context, principal), upcoming: upcoming))
        }
        group.post("schedules/:name/pause") { request, context in
            let principal = try context.require(.manageSchedules)
            let body = try await JSONMessage.object(of: request, limit: bodyLimit, allowEmpty: true)
            try JSONMessage.checkMembers(body, allowed: ["note"], in: "the pause request")
            var note: String?
            if let given = body["note"] {
                guard let text = given.stringValue else { throw Self.badNote }
                note = try Self.pauseNote(text)
            }
            let name = try context.parameters.require("name")
            let record = try await registry(principal.tenant).pause(name, note: note, actor: principal.actor)
            return JSONMessage.response(ScheduleReport.json(record))
        }
        group.post("schedules/:name/resume") { _, context in
            let principal = try context.require(.manageSchedules)
            let name = try context.parameters.require("name")
            let record = try await registry(principal.tenant).resume(name, actor: principal.actor)
            return JSONMessage.response(ScheduleReport.json(record, upcoming: 5))
        }
        group.post("schedules/:name/trigger") { _, context in
            let principal = try context.require(.manageSchedules)
            let name = try context.parameters.require("name")
            let started = try await operations.triggerSchedule(name, by: principal)
            return JSONMessage.response(
                started.report, status: .created, headers: [.location: "/v1/runs/\(started.run)"])
        }
        group.post("schedules/:name/backfill") { request, context in
            let principal = try context.require(.manageSchedules)
            let name = try context.parameters.require("name")
            let body = try await JSONMessage.object(of: request, limit: bodyLimit)
            try JSONMessage.checkMembers(body, allowed: ["from", "to"], in: "the backfill request")
            let backfill = try await operations.backfillSchedule(
                name, from: try Self.instant(body, "from"), to: try Self.instant(body, "to"), by: principal)
            let created = backfill.slots.contains { $0.created }
            return JSONMessage.response(backfill.json, status: created ? .created : .ok)
        }
        group.delete("schedules/:name") { _, context in
            let principal = try context.require(.manageSchedules)
            let name = try context.parameters.require("name")
            guard try await registry(principal.tenant).remove(name, actor: principal.actor) else {
                throw Problem.notFound("schedule \(name)")
            }
            return Response(status: .noContent)
        }
    }

    /// The refusal of a pause note that is not text of at most ``maximumNoteBytes``.
    static let badNote = Problem(
        .unprocessableContent, "validation-failed", "note: expected text of at most \(maximumNoteBytes) bytes")
    static let maximumNoteBytes = 500

    /// A pause's note as given through the API or the console: nil when empty, else the text, or
    /// ``badNote`` when it is longer than ``maximumNoteBytes``.
    static func pauseNote(_ text: String) throws -> String? {
        guard text.utf8.count <= maximumNoteBytes else { throw badNote }
        return text.isEmpty ? nil : text
    }

    /// The RFC 3339 time `body[key]` holds (a backfill's `from` and `to`), or a 422 saying what is needed.
    static func instant(_ body: [String: JSONValue], _ key: String) throws -> Date {
        guard let text = body[key]?.stringValue, let date = Timestamp.parse(text) else {
            throw Problem(
                .unprocessableContent, "validation-failed",
                "\(key): required, an RFC 3339 time such as 2026-12-01T00:00:00Z")
        }
        return date
    }

    private func schedule(_ context: APIContext, _ principal: Principal) async throws -> ScheduleRecord {
        let name = try context.parameters.require("name")
        guard let record = try await registry(principal.tenant).schedule(name) else {
            throw Problem.notFound("schedule \(name)")
        }
        return record
    }

    private func registry(_ tenant: String) -> ScheduleRegistry { operations.scheduleRegistry(tenant: tenant) }
}
