import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSchedules
import UAEFStore

/// `uaef schedules`: the tenant's schedules, which start workflows at set times.
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Apply, list, show, pause, resume, trigger and remove schedules (workflows started at set times).",
        discussion: """
            A schedules file lists schedules by name: the registered workflow each starts, its \
            inputs, and its times, a cron expression on a time zone's wall clock or a fixed \
            interval. uaef serve fires them (and uaef worker --schedules); each slot starts one run, \
            whatever crashes or how many servers share the store. Every problem of a file is \
            reported as file:line: field: message (exit 2) and then nothing is saved. See \
            docs/schedules.md.

            schedules:
              - name: nightly-reconcile
                workflow: reconcile-accounts
                cron: "30 2 * * MON-FRI"
                time_zone: Europe/Berlin
                inputs: {ledger: main}
                slot_input: as_of
            """,
        subcommands: [
            Apply.self, List.self, Show.self, Pause.self, Resume.self, Trigger.self, Backfill.self, Remove.self,
        ])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a schedules file and save the new and changed schedules in it.",
            discussion: """
                Each schedule is checked against the tenant's registered workflows (the workflow, the \
                version, the inputs). A changed schedule keeps its pause and its next slot, unless \
                its times changed: then its next slot is counted from now.
                """)
        @Argument(help: "The schedules file (YAML or JSON).") var file: String
        @Flag(help: "Print JSON: {\"saved\": [schedule...], \"unchanged\": [name...]}.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let text = try Console.readFile(file)
            let applied = try await ScheduleRegistry(engine: try await engineOptions.engine()).apply(
                text, file: file, actor: CLIActor.current)
            if json {
                return Console.printJSON([
                    "saved": .array(applied.saved.map { ScheduleReport.json($0) }),
                    "unchanged": .array(applied.unchanged.map(JSONValue.string)),
                ])
            }
            for record in applied.saved {
                let next = record.nextAt.map { "next \(Timestamp.format($0))" } ?? "no more slots"
                print("saved \(record.name) (\(ScheduleReport.times(record)); \(record.paused ? "paused" : next))")
            }
            for name in applied.unchanged { print("unchanged \(name)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's schedules, by name.")
        @Flag(help: "Print JSON: a list of schedules.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let schedules = try await storeOptions.open().schedules(tenant: storeOptions.tenant)
            if json { return Console.printJSON(.array(schedules.map { ScheduleReport.json($0) })) }
            if schedules.isEmpty { print("no schedules") }
            let width = schedules.map(\.name.count).max() ?? 0
            let workflowWidth = schedules.map { $0.definition["workflow"]?.stringValue?.count ?? 0 }.max() ?? 0
            for record in schedules {
                let state =
                    record.paused
                    ? "paused" + (record.note.map { ": \($0)" } ?? "")
                    : record.nextAt.map { "next \(Timestamp.format($0))" } ?? "no more slots"
                let held = record.buffered ? record.lastRun.map { " (held until \($0) ends)" } ?? "" : ""
                let failed = record.lastError.map { "  last slot failed: \($0)" } ?? ""
                print(
                    "\(Console.padded(record.name, width))  \(Console.padded(record.definition["workflow"]?.stringValue ?? "", workflowWidth))  \(ScheduleReport.times(record))  \(state)\(held)\(failed)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One schedule: its definition, where it stands and its next slots (JSON).")
        @Argument(help: "The schedule's name.") var name: String
        @Option(help: "How many upcoming slots to list (0-100).") var upcoming: Int = 5
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            guard (0...100).contains(upcoming) else { throw ValidationError("--upcoming must be from 0 to 100") }
        }

        func run() async throws {
            guard let record = try await storeOptions.open().schedule(named: name, tenant: storeOptions.tenant) else {
                throw SchedulesCommand.unknown(name, tenant: storeOptions.tenant)
            }
            Console.printJSON(ScheduleReport.json(record, upcoming: upcoming))
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a schedule: its slots pass without starting runs until it is resumed.")
        @Argument(help: "The schedule's name.") var name: String
        @Option(help: "Why, for whoever reads the schedule.") var note: String?
        @OptionGroup var engineOptions: EngineOptions

        func validate() throws {
            if let note, note.utf8.count > 500 { throw ValidationError("--note has at most 500 bytes") }
        }

        func run() async throws {
            try await SchedulesCommand.refusing {
                _ = try await ScheduleRegistry(engine: try await engineOptions.engine()).pause(
                    name, note: note, actor: CLIActor.current)
            }
            print("paused \(name)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Resume a paused schedule from its next slot after now (the slots it was paused for start nothing).")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let record = try await SchedulesCommand.refusing {
                try await ScheduleRegistry(engine: try await engineOptions.engine()).resume(
                    name, actor: CLIActor.current)
            }
            print("resumed \(name)" + (record.nextAt.map { "; next \(Timestamp.format($0))" } ?? "; no more slots"))
        }
    }

    struct Trigger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the schedule's workflow now, as a slot would (paused or not); its slots are unchanged.",
            discussion: """
                The run is created for any runner of the tenant (uaef serve, uaef worker, uaef resume) \
                to execute, as uaef submit's are.
                """)
        @Argument(help: "The schedule's name.") var name: String
        @Flag(help: "Print JSON: {\"run_id\"}.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let start = try await SchedulesCommand.refusing {
                try await ScheduleRegistry(engine: try await engineOptions.engine()).trigger(
                    name, actor: CLIActor.current, leased: false)
            }
            if json { return Console.printJSON(["run_id": .string(start.run.rawValue)]) }
            print(start.run.rawValue)
        }
    }

    struct Backfill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the runs of a schedule's past slots from --from to --to that have none yet.",
            discussion: """
                Each slot in the range (both ends included, both in the past, at most 1000 slots) \
                starts its run as it would have: the schedule's inputs, the slot input set to the \
                slot, under the slot's own key, so a slot that already has its run (fired on time, or \
                backfilled before) keeps it: backfilling again starts nothing twice. Paused or not; \
                the schedule's own slots are unchanged, and the runs all start whatever its overlap. \
                They are created for any runner of the tenant (uaef serve, uaef worker, uaef resume) \
                to execute. A schedule.backfilled event names the range and every slot's run.
                --json prints {"from", "to", "slots": [{"slot", "run_id", "created"}], "created"}.
                """)
        @Argument(help: "The schedule's name.") var name: String
        @Option(
            help: ArgumentHelp(
                "The first instant of the range (RFC 3339, e.g. 2026-12-01T00:00:00Z).", valueName: "time"))
        var from: String
        @Option(help: ArgumentHelp("The last instant of the range (RFC 3339), not after now.", valueName: "time"))
        var to: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            guard let start = Timestamp.parse(from) else {
                throw CLIError.usage(
                    "--from \(from.prefix(40)): expected an RFC 3339 time such as 2026-12-01T00:00:00Z")
            }
            guard let end = Timestamp.parse(to) else {
                throw CLIError.usage("--to \(to.prefix(40)): expected an RFC 3339 time such as 2026-12-01T06:00:00Z")
            }
            let backfill = try await SchedulesCommand.refusing {
                try await ScheduleRegistry(engine: try await engineOptions.engine()).backfill(
                    name, from: start, to: end, actor: CLIActor.current, leased: false
                ) { _ in }
            }
            if json { return Console.printJSON(backfill.json) }
            for slot in backfill.slots {
                print(
                    "\(Timestamp.format(slot.slot))  \(slot.run.rawValue)  \(slot.created ? "started" : "had its run")")
            }
            let created = backfill.slots.filter(\.created).count
            print("\(created) of \(backfill.slots.count) slots started a run")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a schedule (the runs it started go on).")
        @Argument(help: "The schedule's name.") var name: String
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            guard try await ScheduleRegistry(engine: engine).remove(name, actor: CLIActor.current) else {
                throw SchedulesCommand.unknown(name, tenant: engine.tenant)
            }
            print("removed \(name)")
        }
    }

    static func unknown(_ name: String, tenant: String) -> CLIError {
        .usage("no schedule \(name) in tenant \(tenant) (uaef schedules list shows them)")
    }

    /// Runs `body`, turning the registry's refusals into usage errors (exit 2).
    static func refusing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refusal as ScheduleRegistry.Refusal {
            throw CLIError.usage(refusal.description)
        } catch let error as RegistryError {
            throw CLIError.usage(error.description)
        }
    }
}
