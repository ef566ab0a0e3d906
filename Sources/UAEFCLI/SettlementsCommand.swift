import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

extension SettleCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Settle every event since the last pass by the active rules.",
            discussion: """
                uaef run, resume and demo settle on their own when runs end; this does it on demand (after \
                uaef rules load, or for signals). Each (rule, event) settles at most once.
                """)
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let report = try await engine.settle()
            try await LedgerKeys.checkpoint(after: "settlement ran", engineOptions.storeOptions, store: engine.store)
            if json {
                Console.printJSON([
                    "events": .number(Number(report.events)), "expired": .number(Number(report.expired)),
                    "settlements": .array(report.settlements.map(SettlementJSON.settlement)),
                ])
                return
            }
            print("settled \(report.events) events: \(report.settlements.count) settlements, \(report.expired) expired")
            for settlement in report.settlements { print("  " + SettlementsCommand.line(settlement)) }
        }
    }
}

struct SettlementsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settlements", abstract: "Settlements: what each rule made of each event, and where they stand.",
        subcommands: [List.self, Show.self, Reverse.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List settlements, newest first.")
        @Option(help: "Only this status (\(SettlementStatus.allCases.map(\.rawValue).joined(separator: ", "))).")
        var status: String?
        @Option(help: "The most to list (1-1000).") var limit = 100
        @Option(help: "Only settlements older than this one (the last listed before).") var before: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws { try Console.checkLimit(limit, upTo: 1_000) }

        func run() async throws {
            let filter = try Console.choice(status, option: "--status", as: SettlementStatus.self)
            let settlements = try await storeOptions.open().settlements(
                tenant: storeOptions.tenant, status: filter, before: before, limit: limit)
            if json {
                Console.printJSON(.array(settlements.map(SettlementJSON.settlement)))
            } else {
                if settlements.isEmpty { print("no settlements") }
                for settlement in settlements { print(SettlementsCommand.line(settlement)) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One settlement: its calculation, transfers and approvals.")
        @Argument(help: "The settlement id.") var id: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws { try await SettlementsCommand.show(id, json: json, storeOptions) }
    }

    struct Reverse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Correct a posted settlement: book its transfers back (reversing entries) and void it.",
            discussion:
                "Nothing is edited: the journal keeps the original and the reversing transfers. Exit 2 unless it is posted."
        )
        @Argument(help: "The settlement id.") var id: String
        @Option(help: "Why, recorded in the settlement.voided event.") var reason: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let settlement = try await engine.reverse(id, reason: reason, actor: CLIActor.current)
            try await LedgerKeys.checkpoint(
                after: "the settlement was reversed", engineOptions.storeOptions, store: engine.store)
            if json {
                Console.printJSON(SettlementJSON.settlement(settlement))
            } else {
                print(SettlementsCommand.line(settlement))
            }
        }
    }

    /// Prints one settlement with its calculation, transfers and decisions.
    static func show(_ id: String, json: Bool, _ storeOptions: StoreOptions) async throws {
        let store = try await storeOptions.open()
        guard let (settlement, transfers, approvals) = try await store.settlement(id, tenant: storeOptions.tenant)
        else {
            throw CLIError.usage("no settlement \(id) in tenant \(storeOptions.tenant)")
        }
        if json {
            var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
            value["detail"] = settlement.detail
            value["transfers"] = .array(transfers.map(SettlementJSON.transfer))
            value["approvals"] = .array(approvals.map(SettlementJSON.approval))
            Console.printJSON(.object(value))
            return
        }
        print(SettlementsCommand.line(settlement))
        let detail = settlement.detail
        if let exact = detail["exact"]?.stringValue {
            print(
                "  exact \(exact), capped \(detail["capped"]?.stringValue ?? exact), rounding \(detail["rounding"]?["mode"]?.stringValue ?? "") \(detail["rounding"]?["adjustment"]?.stringValue ?? "0")"
            )
        }
        for transfer in transfers {
            print(
                "  transfer \(transfer.id) \(transfer.phase.rawValue)\(transfer.pendingID.map { " (of \($0))" } ?? ""): \(transfer.debit) → \(transfer.credit) \(transfer.amount)"
            )
        }
        for approval in approvals { print("  " + ApprovalsCommand.line(approval)) }
    }

    static func line(_ settlement: SettlementRecord) -> String {
        let reason = settlement.reason.map { " (\($0))" } ?? ""
        return
            "\(settlement.id)  \(Console.padded(settlement.status.rawValue, 16))  \(settlement.amount)  \(settlement.ruleID) @\(settlement.triggerSeq)\(reason)"
    }
}

struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts", abstract: "Journal accounts and their balances.", subcommands: [Balances.self],
        defaultSubcommand: Balances.self)

    /// The balance table: one line per account, then the trial balance.
    static func table(_ accounts: [AccountRecord]) -> String {
        guard !accounts.isEmpty else { return "no accounts; uaef rules load FILE declares them" }
        let width = max(8, accounts.map(\.definition.id.count).max() ?? 0)
        var lines = [
            Console.padded("account", width)
                + "  type        currency        posted       pending     available"
        ]
        for account in accounts {
            let kind = account.definition.kind
            let cells = [account.balance.posted(kind), account.balance.pending(kind), account.balance.available(kind)]
                .map { Money.decimalText(minorUnits: $0, currency: account.definition.currency) }
                .map { String(repeating: " ", count: max(0, 13 - $0.count)) + $0 }
            lines.append(
                Console.padded(account.definition.id, width) + "  "
                    + Console.padded(kind.rawValue, 10) + "  "
                    + account.definition.currency.code + "     " + cells.joined(separator: " "))
        }
        let trial = SettlementJSON.trialBalance(accounts)
        lines.append("trial balance: \(trial == 0 ? "0 (balanced)" : "\(trial) minor units OFF")")
        return lines.joined(separator: "\n")
    }

    struct Balances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "balances",
            abstract: "Every account with its posted, pending and available balance, and the trial balance.",
            discussion: """
                Balances are in the account's normal direction (debits − credits for assets and expenses, \
                credits − debits otherwise). The trial balance (all debits − all credits, posted and pending) \
                is zero when the journal is consistent.
                """,
            aliases: ["list"])
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let accounts = try await storeOptions.open().accounts(tenant: storeOptions.tenant)
            if json {
                Console.printJSON(SettlementJSON.accounts(accounts))
                return
            }
            print(AccountsCommand.table(accounts))
        }
    }
}

struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "The double-entry journal: every transfer, in order, with its phase (pending, posted, voided).")
    @Option(help: "Start at this transfer id.") var from: Int64 = 1
    @Option(help: "The most to print (1-10000).") var limit = 1000
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var storeOptions: StoreOptions

    func validate() throws { try Console.checkLimit(limit, upTo: 10_000) }

    func run() async throws {
        let transfers = try await storeOptions.open().transfers(
            tenant: storeOptions.tenant, from: from, limit: limit)
        if json {
            Console.printJSON(.array(transfers.map(SettlementJSON.transfer)))
            return
        }
        if transfers.isEmpty { print("no transfers") }
        for transfer in transfers {
            print(
                "\(transfer.id)  \(Timestamp.format(transfer.createdAt))  \(Console.padded(transfer.phase.rawValue, 7))  \(transfer.debit) → \(transfer.credit)  \(transfer.amount)  \(transfer.settlementID)"
            )
        }
    }

}

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "Settlements and workflow tasks waiting for approval, and the decisions on them (maker-checker).",
        discussion: """
            A settlement above its rule's threshold waits for the rule's number of distinct approvers with its \
            role, none of them the principal who started what led to it; one rejection rejects it, and an \
            approval not given in time expires. The CLI takes the principal and role as given (--as, --role); \
            the HTTP API will take them from the caller's token.
            """,
        subcommands: [List.self, Show.self, Approve.self, Reject.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Settlements pending approval.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let store = engine.store
            let pending = try await store.settlements(
                tenant: engine.tenant, status: .pendingApproval, before: nil, limit: 1000)
            // Requests whose task stopped waiting (timed out, cancelled, interrupted) are not listed.
            var tasks: [TaskApprovalRecord] = []
            for approval in try await store.taskApprovals(tenant: engine.tenant, status: .pending)
            where try await engine.isWaiting(approval) {
                tasks.append(approval)
            }
            if json {
                Console.printJSON(
                    .array(
                        tasks.map(SettlementJSON.approval)
                            + pending.map { settlement in
                                var value = SettlementJSON.settlement(settlement).objectValue ?? [:]
                                value["kind"] = "settlement"
                                return .object(value)
                            }))
                return
            }
            if pending.isEmpty && tasks.isEmpty { print("nothing waits for approval") }
            for task in tasks {
                print(
                    "\(task.id)  task \(task.runID)/\(task.key)  needs \(task.approvers) \(task.role)  \(task.message)")
            }
            for settlement in pending { print(SettlementsCommand.line(settlement)) }
        }
    }

    /// What approve and reject share.
    struct Decision: ParsableArguments {
        @Argument(help: "The settlement id (stl_…) or task approval id (apr_…).") var id: String
        @Option(name: .customLong("as"), help: "Who decides (a principal, e.g. alice@example.com).") var principal:
            String
        @Option(help: "The role the principal acts in (the rule names the role it needs).") var role: String
        @Option(help: "Why.") var reason: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func record(_ decision: ApprovalRecord.Decision) async throws {
            let engine = try await engineOptions.engine()
            guard !id.hasPrefix("apr_") else {
                let approval = try await engine.decide(
                    task: id, decision, principal: principal, role: role, reason: reason)
                try await LedgerKeys.checkpoint(
                    after: "the decision was recorded", engineOptions.storeOptions, store: engine.store)
                if json {
                    Console.printJSON(SettlementJSON.approval(approval))
                } else {
                    print("\(approval.id)  task \(approval.runID)/\(approval.key)  \(approval.status.rawValue)")
                }
                return
            }
            let settlement = try await engine.decide(id, decision, principal: principal, role: role, reason: reason)
            try await LedgerKeys.checkpoint(
                after: "the decision was recorded", engineOptions.storeOptions, store: engine.store)
            if json {
                Console.printJSON(SettlementJSON.settlement(settlement))
            } else {
                print(SettlementsCommand.line(settlement))
            }
        }
    }

    static func line(_ decision: ApprovalRecord) -> String {
        "\(decision.decision.rawValue) by \(decision.principal) (\(decision.role)) at \(Timestamp.format(decision.time))"
            + (decision.reason.map { ": \($0)" } ?? "")
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One settlement or task approval waiting (or once waiting) for approval, with its decisions.")
        @Argument(help: "The settlement id (stl_…) or task approval id (apr_…).") var id: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            guard id.hasPrefix("apr_") else { return try await SettlementsCommand.show(id, json: json, storeOptions) }
            let store = try await storeOptions.open()
            guard let approval = try await store.taskApproval(id, tenant: storeOptions.tenant) else {
                throw CLIError.usage("no approval \(id) in tenant \(storeOptions.tenant)")
            }
            let decisions = try await store.decisions(on: id)
            if json {
                var value = SettlementJSON.approval(approval).objectValue ?? [:]
                value["decisions"] = .array(decisions.map(SettlementJSON.approval))
                Console.printJSON(.object(value))
                return
            }
            print(
                "\(approval.id)  task \(approval.runID)/\(approval.key)  \(approval.status.rawValue)  needs \(approval.approvers) \(approval.role)"
            )
            print("  \(approval.message)")
            for decision in decisions { print("  " + ApprovalsCommand.line(decision)) }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a settlement; posted once enough approve.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.record(.approve) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a settlement; its reservation is released.")
        @OptionGroup var decision: Decision

        func run() async throws { try await decision.record(.reject) }
    }
}
