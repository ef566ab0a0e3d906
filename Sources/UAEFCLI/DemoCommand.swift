import ArgumentParser
import Foundation
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore
import UAEFStoreSQLite

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the invoice-processing example on a fresh SQLite file and show what happened.",
        discussion:
            "The workflow is examples/invoice-processing.yaml; the store is a new file in a temporary folder unless --store is given."
    )

    @Option(help: "Use this store instead of a fresh temporary one (sqlite:PATH).") var store: String?
    @Flag(help: "Print the finished run as JSON.") var json = false

    func run() async throws {
        let path: String
        if let store {
            path = store
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "uaef-demo-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            path = "sqlite:" + directory.appendingPathComponent("demo.db").path
        }
        let options = try EngineOptions.parse(["--store", path])
        let engine = try await options.engine()
        let registry = AgentRegistry(store: engine.store, kinds: engine.kinds, tenant: engine.tenant)
        if try await registry.find("classifier") == nil {
            let specs = try AgentFileParser.parse(
                DemoWorkflow.agents, file: "examples/agents.yaml", kinds: Set(engine.kinds.kinds.keys))
            _ = try await registry.register(specs, actor: "demo")
        }
        if try await engine.store.activeRuleSet(tenant: engine.tenant) == nil {
            _ = try await engine.loadRules(DemoWorkflow.rules, file: "examples/invoice-settlement.yaml", actor: "demo")
        }
        let file = "examples/invoice-processing.yaml"
        let definition = try await engine.validate(DemoWorkflow.text, file: file)
        let started = ContinuousClock.now
        let id = try await engine.submit(definition, file: file, inputs: [], actor: "demo", leased: true)
        if !json { print("uaef demo: store \(path)\nrunning \(definition.name) as \(id)…\n") }
        let statuses = try await engine.execute([id], definitions: [id: definition])
        let elapsed = ContinuousClock.now - started
        let settled = try await LedgerKeys.settleAndCheckpoint(engine, options.storeOptions)
        // Large amounts wait for two finance approvers; the demo plays both (neither started the run).
        for settlement in settled.settlements where settlement.status == .pendingApproval {
            for approver in ["alice@finance.example", "bob@finance.example"] {
                _ = try await engine.decide(
                    settlement.id, .approve, principal: approver, role: "finance", reason: "demo: matches the PO")
            }
        }
        try await LedgerKeys.checkpoint(
            after: "the demo's approvals were recorded", options.storeOptions, store: engine.store)
        try await RunOutput.print(id, engine: engine, json: json)
        if !json {
            print("\nSettlements (rules: examples/invoice-settlement.yaml):")
            for settlement in settled.settlements {
                let current = try await engine.store.settlement(settlement.id, tenant: engine.tenant)?.0 ?? settlement
                print("  " + SettlementsCommand.line(current))
            }
            print("")
            print(AccountsCommand.table(try await engine.store.accounts(tenant: engine.tenant)))
            let events = try await engine.store.events(from: 0, limit: 100_000)
            let ms = elapsed.milliseconds
            print(
                """

                \(events.count) events recorded, each committed with its state change and appended to the ledger,
                and a checkpoint signed. The extraction agent earned 0.40 per line, the platform its 2.5 % fee,
                and the 1,249.90 vendor payable waited for two finance approvers before it was posted.
                Finished in \(ms) ms: post_to_erp failed once and was retried; manager_review ran because the
                total is over 1000 while auto_approve was skipped; price_line fanned out over 3 line items;
                notify_failure was skipped because nothing failed.
                Look around: uaef ledger verify | settlements list | journal | accounts --store \(path)
                """)
        }
        guard statuses[id] == .succeeded else { throw ExitCode(1) }
    }
}
