import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement

struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Send a custom signal (event signal.<name>) for settlement rules, exactly once per idempotency key.",
        discussion: """
            Rules with on: signal.<name> read the data as event.data. The signal is settled at once. Sending \
            the same key again returns the first result (replayed: true); the same key with other data is \
            refused (exit 2).
            JSON: {"signal", "event_seq", "idempotency_key", "replayed", "settlements": [...]}
            """)
    @Argument(help: "The signal's name ([a-z0-9_-]+).") var name: String
    @Option(help: "The data, a JSON object.") var data = "{}"
    @Option(help: "Makes the signal happen once, however often it is sent.") var idempotencyKey: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var engineOptions: EngineOptions

    func validate() throws {
        guard !name.isEmpty, name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "_-".contains($0) })
        else { throw ValidationError("signal name \"\(name)\": use [a-z0-9_-]+") }
        guard !idempotencyKey.isEmpty else { throw ValidationError("--idempotency-key must not be empty") }
    }

    func run() async throws {
        let members: [String: JSONValue]
        do {
            guard case .object(let object) = try JSONValue(jsonText: data) else {
                throw CLIError.usage("--data must be a JSON object, e.g. '{\"units\": 3}'")
            }
            members = object
        } catch let error as JSONTextError {
            throw CLIError.usage("--data: \(error)")
        }
        let engine = try await engineOptions.engine()
        let result = try await engine.signal(
            name, data: members, idempotencyKey: idempotencyKey, actor: CLIActor.current)
        if !result.replayed {
            try await LedgerKeys.checkpoint(
                after: "the signal was settled", engineOptions.storeOptions, store: engine.store)
        }
        if json {
            Console.printJSON([
                "signal": .string(name), "event_seq": .number(Number(Int(result.seq))),
                "idempotency_key": .string(idempotencyKey), "replayed": .bool(result.replayed),
                "settlements": .array(result.settlements.map(SettlementJSON.settlement)),
            ])
            return
        }
        print("signal.\(name) is event \(result.seq)\(result.replayed ? " (sent before with this key)" : "")")
        for settlement in result.settlements { print("  " + SettlementsCommand.line(settlement)) }
    }
}
