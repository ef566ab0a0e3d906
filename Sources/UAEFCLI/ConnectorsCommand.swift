import ArgumentParser
import Foundation
import Logging
import UAEFConnectors
import UAEFCore
import UAEFStore

/// `uaef connectors`: the tenant's webhook, SQS, Service Bus, SAP and Oracle connectors.
struct ConnectorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connectors",
        abstract:
            "Apply, list, show, test and remove connectors (webhook, sqs, servicebus, sap, oracle, slack, teams, jira).",
        discussion: """
            A connectors file lists connectors by name and type with their settings; credentials are \
            only ever secret references ({$secret: NAME}, set with uaef secrets set). Every problem of a \
            file is reported as file:line: field: message (exit 2) and then nothing is saved. See \
            docs/connectors.md (and docs/erp.md for sap).

            connectors:
              - name: erp-events
                type: webhook
                url: https://hooks.example.com/uaef
                secrets: [{$secret: erp-hook}]
            """,
        subcommands: [Apply.self, List.self, Show.self, Remove.self, Test.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a connectors file and save every connector in it (replacing same-named ones).")
        @Argument(help: "The connectors file (YAML or JSON).") var file: String
        @Flag(help: "Print JSON: {\"connectors\": [...], \"unset_secrets\": [...]}.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let text = try Console.readFile(file)
            let registry = ConnectorRegistry(store: try await storeOptions.open(), tenant: storeOptions.tenant)
            let (saved, unset) = try await registry.apply(text, file: file, actor: CLIActor.current)
            if json {
                return Console.printJSON([
                    "connectors": .array(saved.map(ConnectorJSON.connector)),
                    "unset_secrets": .array(unset.map(JSONValue.string)),
                ])
            }
            for connector in saved { print("saved \(connector.name) (\(connector.kind))") }
            if !unset.isEmpty {
                Console.warn(
                    "secrets not set yet in tenant \(storeOptions.tenant): \(unset.joined(separator: ", ")) (uaef secrets set NAME)"
                )
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's connectors, by name.")
        @Flag(help: "Print JSON: a list of connectors.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let connectors = try await storeOptions.open().connectors(tenant: storeOptions.tenant)
            if json { return Console.printJSON(.array(connectors.map(ConnectorJSON.connector))) }
            if connectors.isEmpty { print("no connectors") }
            let width = connectors.map(\.name.count).max() ?? 0
            for connector in connectors {
                print(
                    "\(Console.padded(connector.name, width))  \(Console.padded(connector.kind, 10))  updated \(Timestamp.format(connector.updatedAt)) by \(connector.updatedBy)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One connector with its settings (JSON).")
        @Argument(help: "The connector's name.") var name: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            guard let connector = try await storeOptions.open().connector(named: name, tenant: storeOptions.tenant)
            else {
                throw CLIError.usage("no connector \(name) in tenant \(storeOptions.tenant)")
            }
            Console.printJSON(ConnectorJSON.connector(connector))
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that a connector's secrets open and the system it names accepts its credentials.",
            discussion: """
                webhook: posts a signed uaef.connector.test message to its url (inbound-only connectors: \
                checks the signing secrets); sqs: GetQueueAttributes; servicebus: reads the entity's \
                description; sap: fetches a CSRF token; oracle: reads one invoice id; slack: auth.test; \
                teams: posts a test card; jira: reads the account and the project. Exit 0 when it worked, \
                1 when not. Reaches any address, as the CLI's \
                other commands do; a server's --allow-network does not apply here.
                """)
        @Argument(help: "The connector's name.") var name: String
        @Flag(help: "Print JSON: {\"connector\", \"type\", \"ok\", \"detail\"}.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let storeOptions = engineOptions.storeOptions
            let store = try await storeOptions.open()
            guard let record = try await store.connector(named: name, tenant: storeOptions.tenant) else {
                throw CLIError.usage("no connector \(name) in tenant \(storeOptions.tenant)")
            }
            let result = await ConnectorProbe.probe(
                record, store: store, secrets: try engineOptions.secretBox(), access: .local,
                logger: Logger(label: "uaef"))
            if json {
                Console.printJSON([
                    "connector": .string(name), "type": .string(record.kind), "ok": .bool(result.ok),
                    "detail": .string(result.detail),
                ])
            } else {
                print("\(name) (\(record.kind)): \(result.ok ? "ok" : "failed"): \(result.detail)")
            }
            if !result.ok { throw ExitCode(1) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a connector.")
        @Argument(help: "The connector's name.") var name: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let registry = ConnectorRegistry(store: try await storeOptions.open(), tenant: storeOptions.tenant)
            guard try await registry.remove(name, actor: CLIActor.current) else {
                throw CLIError.usage("no connector \(name) in tenant \(storeOptions.tenant)")
            }
            print("removed \(name)")
        }
    }
}
