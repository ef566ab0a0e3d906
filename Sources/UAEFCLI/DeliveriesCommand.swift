import ArgumentParser
import Foundation
import UAEFConnectors
import UAEFCore
import UAEFStore

/// `uaef deliveries`: what subscriptions sent, are sending and gave up on.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "List subscription deliveries, replay dead ones, resume a paused subscription.",
        discussion: """
            A connector with a subscription forwards the ledger events it names; each event is one \
            delivery, attempted on the retry schedule (Standard Webhooks: 5s, 5m, 30m, 2h, 5h, 10h, \
            14h, 20h, 24h) until it is delivered or dead. A receiver that answers 410 Gone pauses the \
            subscription until it is resumed. uaef serve makes the deliveries. See docs/connectors.md.
            """,
        subcommands: [List.self, Replay.self, Resume.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's deliveries, newest event first.")
        @Option(help: "Only this connector's.") var connector: String?
        @Option(help: "Only deliveries in this state: pending, delivered or dead.") var status: String?
        @Option(help: "At most this many (1-1000).") var limit = 50
        @Option(help: "Only deliveries of events before this event seq (the next page).") var before: Int64?
        @Flag(help: "Print JSON: {\"deliveries\": [...], \"next_before\": SEQ or null}.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            try Console.checkLimit(limit, upTo: 1_000)
            if let status, DeliveryStatus(rawValue: status) == nil {
                throw ValidationError(
                    "--status \(status) is not a delivery state; valid: \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
        }

        func run() async throws {
            let deliveries = try await storeOptions.open().deliveries(
                tenant: storeOptions.tenant, connector: connector, status: status.flatMap(DeliveryStatus.init),
                before: before, limit: limit)
            let next: JSONValue =
                deliveries.count == limit ? deliveries.last.map { .number(Number(Int($0.eventSeq))) } ?? .null : .null
            if json {
                return Console.printJSON([
                    "deliveries": .array(deliveries.map(ConnectorJSON.delivery)), "next_before": next,
                ])
            }
            if deliveries.isEmpty { print("no deliveries") }
            for delivery in deliveries {
                var line =
                    "\(Console.padded(delivery.connector, 16))  \(Console.padded(delivery.eventType, 22))  \(Console.padded(delivery.status.rawValue, 9))  attempts \(delivery.attempts)"
                if delivery.status == .pending, let next = delivery.nextAttemptAt {
                    line += "  next \(Timestamp.format(next))"
                }
                if let error = delivery.lastError, delivery.status != .delivered { line += "  \(error.prefix(120))" }
                print(line)
            }
            if case .number(let seq) = next { print("more: --before \(seq)") }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a connector's dead deliveries (all, or those named) a fresh set of attempts.")
        @Argument(help: "The connector's name.") var connector: String
        @Option(name: .customLong("id"), help: "Only this delivery (repeatable).") var ids: [String] = []
        @Flag(help: "Print JSON: {\"replayed\": N}.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let registry = ConnectorRegistry(store: try await storeOptions.open(), tenant: storeOptions.tenant)
            let count = try await DeliveriesCommand.usage {
                try await registry.replayDeliveries(connector, ids: ids.isEmpty ? nil : ids, actor: CLIActor.current)
            }.count
            if json { return Console.printJSON(["replayed": .number(Number(count))]) }
            print("replayed \(count) dead deliver\(count == 1 ? "y" : "ies") of \(connector)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a subscription that a receiver paused by answering 410 Gone.")
        @Argument(help: "The connector's name.") var connector: String
        @Flag(help: "Print JSON: {\"was_paused\": REASON or null}.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let registry = ConnectorRegistry(store: try await storeOptions.open(), tenant: storeOptions.tenant)
            let paused = try await DeliveriesCommand.usage {
                try await registry.resumeSubscription(connector, actor: CLIActor.current)
            }
            if json { return Console.printJSON(["was_paused": paused.map(JSONValue.string) ?? .null]) }
            print(paused.map { "resumed \(connector) (paused: \($0))" } ?? "\(connector) was not paused")
        }
    }

    /// `body`'s result; a connector that is missing or has no subscription is a usage error.
    static func usage<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as DeliveriesError { throw CLIError.usage(error.description) }
    }
}
