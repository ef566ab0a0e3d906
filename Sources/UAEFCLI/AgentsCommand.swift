import ArgumentParser
import Foundation
import Logging
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFStore

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Register agents and manage their lifecycle (registered → active ⇄ suspended → retired).",
        subcommands: [Register.self, Activate.self, Suspend.self, Retire.self, List.self, Show.self])

    /// The tenant's agents, with every kind an engine knows (the built-in ones, approval, remote,
    /// the connector kinds and llm).
    static func registry(_ options: StoreOptions) async throws -> AgentRegistry {
        let store = try await options.open()
        let engine = Engine(
            store: store,
            kinds: EngineOptions.withStoreKinds(BuiltInAgents.registry, store: store, secrets: nil, connectors: .local),
            sections: [], tenant: options.tenant, logger: Logger(label: "uaef"))
        return AgentRegistry(store: engine.store, kinds: engine.kinds, tenant: engine.tenant)
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register one agent from flags, or every agent of a YAML file (--file).",
            discussion: """
                Agents file:
                  agents:
                    - name: extractor
                      kind: command
                      capabilities: [extract]
                      config: {command: ["python3", "extract.py"]}
                      max_concurrency: 4
                      activate: true
                """)
        @Option(help: "Read agents from this YAML file.") var file: String?
        @Option(help: "The agent's name (unique in the tenant).") var name: String?
        @Option(
            help:
                "The agent kind that executes its work: noop, echo, sleep, command, http, llm (a model; docs/llm.md), approval, remote (work claimed over the HTTP API)."
        ) var kind: String?
        @Option(name: .customLong("capability"), help: "A capability it offers (repeat for more).") var capabilities:
            [String] = []
        @Option(help: "Parameters merged under each task's `with`, as a JSON object.") var config: String?
        @Option(help: "Attempts it may run at once.") var maxConcurrency: Int = 1
        @Flag(help: "Activate it at once.") var activate = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let registry = try await AgentsCommand.registry(storeOptions)
            let kinds = registry.kindNames
            var specs: [AgentSpec]
            if let file {
                specs = try AgentFileParser.parse(try Console.readFile(file), file: file, kinds: kinds)
            } else {
                guard let name, let kind else {
                    throw CLIError.usage("give --name, --kind and --capability, or --file agents.yaml")
                }
                var configuration: [String: JSONValue] = [:]
                if let config {
                    guard case .object(let members)? = try? JSONValue(jsonText: config) else {
                        throw CLIError.usage("--config must be a JSON object, e.g. '{\"command\": [\"./work.sh\"]}'")
                    }
                    configuration = members
                }
                specs = [
                    AgentSpec(
                        name: name, kind: kind, capabilities: capabilities, configuration: configuration,
                        maxConcurrency: maxConcurrency, activate: activate)
                ]
            }
            let agents = try await registry.register(specs, actor: CLIActor.current)
            if json {
                Console.printJSON(.array(agents.map { AgentReport.json($0, metrics: nil) }))
            } else {
                for agent in agents { print("registered \(agent.name) (\(agent.id)) \(agent.status.rawValue)") }
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let an agent take work.")
        @Argument(help: "The agent's id or name.") var agent: String
        @Flag(help: "Print the agent as JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions
        func run() async throws { try await AgentsCommand.move(agent, to: .active, json: json, storeOptions) }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop giving an agent new work (attempts in flight finish).")
        @Argument(help: "The agent's id or name.") var agent: String
        @Flag(help: "Print the agent as JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions
        func run() async throws { try await AgentsCommand.move(agent, to: .suspended, json: json, storeOptions) }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire an agent for good.")
        @Argument(help: "The agent's id or name.") var agent: String
        @Flag(help: "Print the agent as JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions
        func run() async throws { try await AgentsCommand.move(agent, to: .retired, json: json, storeOptions) }
    }

    static func move(_ agent: String, to status: AgentStatus, json: Bool, _ options: StoreOptions) async throws {
        let record = try await registry(options).setStatus(agent, to: status, actor: CLIActor.current)
        if json {
            Console.printJSON(AgentReport.json(record, metrics: nil))
        } else {
            print("\(record.name) (\(record.id)) \(record.status.rawValue)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List agents with their status and metrics.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.open()
            let agents = try await store.agents(tenant: storeOptions.tenant)
            let metrics = try await store.metrics(of: agents.map(\.id))
            let rows = agents.map { ($0, metrics[$0.id] ?? AgentMetrics(attempts: [])) }
            if json {
                Console.printJSON(.array(rows.map { AgentReport.json($0.0, metrics: $0.1) }))
                return
            }
            if rows.isEmpty { print("no agents; register one with `uaef agents register`") }
            // Columns as wide as their longest value: names are never cut.
            let nameWidth = max(16, agents.map(\.name.count).max() ?? 0)
            for (agent, metrics) in rows {
                print(
                    "\(Console.padded(agent.name, nameWidth)) \(Console.padded(agent.status.rawValue, 10)) \(Console.padded(agent.kind, 8)) [\(agent.capabilities.joined(separator: ", "))]  attempts \(metrics.attempts) ok \(metrics.successes) failed \(metrics.failures) running \(metrics.runningNow)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one agent with its metrics.")
        @Argument(help: "The agent's id or name.") var agent: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.open()
            guard let record = try await AgentsCommand.registry(storeOptions).find(agent) else {
                throw CLIError.usage("no agent \(agent) in tenant \(storeOptions.tenant)")
            }
            let metrics = try await store.metrics(of: record.id)
            let llm =
                record.kind == "llm"
                ? try await store.conversationTotals(tenant: record.tenant, agent: record.name) : nil
            let value = AgentReport.json(record, metrics: metrics, llm: llm)
            if json { Console.printJSON(value) } else { print(value.prettyJSONText) }
        }
    }
}
