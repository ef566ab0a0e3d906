import ArgumentParser
import Foundation
import UAEFCore
import UAEFStore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the event log in order: every state change, with its seq, time, type, actor and data.",
        discussion:
            "One line per event, or with --json one JSON object per line (seq, id, time, type, actor, tenant, subject, data, payloads). Task inputs and outputs are payloads beside the event; its data holds their SHA-256 as <name>_sha256."
    )

    @Option(help: "Start at this seq.") var from: Int64 = 0
    @Option(help: "The most events to print.") var limit: Int = 1000
    @Option(help: "Only events about this run (its id, or run/task subjects under it).") var run: String?
    @Flag(help: "Print JSON lines.") var json = false
    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        guard from >= 0 else { throw ValidationError("--from must be 0 or more") }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let store = try await storeOptions.open()
        var printed = 0
        var next = from
        while printed < limit {
            let records: [EventRecord]
            if let run {
                // One run's events through the store's index of events by run, not a scan of the log.
                records = try await store.runEvents(
                    of: RunID(run), tenant: storeOptions.tenant, from: next, limit: min(1000, limit - printed))
                guard let last = records.last, last.seq < Int64.max else { break }
                next = last.seq + 1
            } else {
                guard let page = try await store.tenantEvents(from: next, scanning: 1000, tenant: storeOptions.tenant)
                else { break }
                next = page.next
                records = page.records
            }
            for record in records.prefix(limit - printed) {
                print(json ? Self.json(record).jsonText : Self.line(record))
            }
            printed += min(records.count, limit - printed)
        }
    }

    static func json(_ record: EventRecord) -> JSONValue {
        [
            "seq": .number(Number(Int(record.seq))), "id": .string(record.event.id),
            "time": .string(Timestamp.format(record.event.time)), "type": .string(record.event.type),
            "actor": .string(record.event.actor), "tenant": .string(record.event.tenant),
            "subject": .string(record.event.subject), "data": .object(record.event.data),
            "payloads": .object(record.event.payloads),
        ]
    }

    static func line(_ record: EventRecord) -> String {
        let shown = record.event.data.merging(record.event.payloads) { _, payload in payload }
        let data = shown.isEmpty ? "" : " " + JSONValue.object(shown).jsonText
        return
            "\(record.seq) \(Timestamp.format(record.event.time)) \(record.event.type) \(record.event.subject) by \(record.event.actor)\(data)"
    }
}
