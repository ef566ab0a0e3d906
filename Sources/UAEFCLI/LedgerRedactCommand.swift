import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

extension LedgerCommand {
    struct Redact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Erase a finished run's stored inputs and outputs (e.g. a GDPR request); the ledger still verifies.",
            discussion: """
                Events hold only the SHA-256 of each payload, so erasing the payloads leaves every leaf, tree head \
                and proof intact. The erasure is itself an event (payload.redacted) with who, why and the digests \
                erased, and a new checkpoint is signed. Exit 2 when the run does not exist or has not ended.
                """)
        @Option(help: "The run whose payloads to erase.") var run: String
        @Option(help: "Only this task's payloads (a task id, covering its fan-out instances, or one id[index]).")
        var task: String?
        @Option(help: "Why, recorded in the event (e.g. a request reference).") var reason: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("--reason must say why the payloads are erased")
            }
        }

        func run() async throws {
            let engine = try await engineOptions.engine()
            let outcome = try await engine.redact(RunID(run), task: task, reason: reason, actor: CLIActor.current)
            let event: EventRecord
            switch outcome {
            case .runNotFound: throw CLIError.usage("no run \(run) in tenant \(engine.tenant)")
            case .runActive(let status):
                throw CLIError.usage(
                    "run \(run) is \(status.rawValue): its payloads are still inputs to its tasks; redact it once it has ended"
                )
            case .redacted(let record): event = record
            }
            try await LedgerKeys.checkpoint(
                after: "the payloads were erased", engineOptions.storeOptions, store: engine.store)
            let erased = event.event.data["erased"]?.arrayValue ?? []
            if json {
                Console.printJSON([
                    "run_id": .string(run), "event_seq": .number(Number(Int(event.seq))), "erased": .array(erased),
                ])
            } else {
                print(
                    "erased \(erased.count) payload(s) of \(task.map { "\(run)/\($0)" } ?? run); recorded as event \(event.seq)"
                )
            }
        }
    }
}
