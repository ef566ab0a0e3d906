import Dispatch
import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore
import UAEFTestSupport

@Suite("Settlement engine, on SQLite and PostgreSQL")
struct SettlementEngineTests {
    static let rules = """
        accounts:
          - {id: ops, type: expense, currency: EUR}
          - {id: agent, type: liability, currency: EUR}
          - {id: wallet, type: asset, currency: EUR, limit: debits_must_not_exceed_credits}
          - {id: vendor, type: liability, currency: EUR}
        rules:
          - id: per-unit
            on: signal.work
            amount: {per_unit: {rate: "0.25", quantity: "${{ event.data.units }}"}}
            currency: EUR
            from: ops
            to: agent
          - id: big
            on: signal.invoice
            amount: {formula: "${{ event.data.total }}"}
            currency: EUR
            from: ops
            to: vendor
            approval: {above: "100", approvers: 2, role: finance, expires: 1h}
          - id: overdraw
            on: signal.spend
            amount: {fixed: 5}
            currency: EUR
            from: wallet
            to: vendor
        """

    func engine(_ location: TestStore, clock: (@Sendable () -> Date)? = nil) async throws -> Engine {
        var configuration = Runner.Configuration()
        if let clock { configuration.clock = clock }
        return Engine(
            store: try await location.open(), kinds: BuiltInAgents.registry, sections: [SettlementSection()],
            configuration: configuration,
            logger: Logger(label: "test"))
    }

    func signal(_ engine: Engine, _ name: String, actor: String = "cli:maker", _ data: [String: JSONValue]) async throws
    {
        var changes = ChangeSet()
        changes.events = [
            EventDraft(
                id: "evt_\(UUID().uuidString)", time: Date(), type: "signal.\(name)", actor: actor, tenant: "default",
                subject: "signal/\(name)", data: data)
        ]
        try await engine.store.commit(changes)
    }

    func balances(_ engine: Engine) async throws -> [String: AccountBalance] {
        Dictionary(
            uniqueKeysWithValues: try await engine.store.accounts(tenant: "default").map {
                ($0.definition.id, $0.balance)
            })
    }

    @Test(
        "each (rule, event) settles exactly once: repeated and concurrent passes add nothing, new events settle later",
        arguments: StoreBackend.allCases)
    func exactlyOnce(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "settle")
        defer { location.remove() }
        let engine = try await engine(location)
        _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
        for units in [4, 6] { try await signal(engine, "work", ["units": .number(Number(units))]) }
        // Two passes at once, as two processes would: together they settle each event once.
        async let first = engine.settle()
        async let second = engine.settle()
        let created = try await first.settlements.count + second.settlements.count
        #expect(created == 2)
        #expect(try await engine.settle().settlements.isEmpty)
        try await signal(engine, "work", ["units": 1])
        let later = try await engine.settle().settlements
        #expect(later.map(\.amount.decimalText) == ["0.25"])
        // A new engine on the same file (a restarted process) finds nothing left to do.
        #expect(try await self.engine(location).settle().settlements.isEmpty)
        #expect(try await balances(engine)["agent"]?.creditsPosted == 275)
        let all = try await engine.store.settlements(tenant: "default", status: nil, before: nil, limit: 10)
        #expect(Set(all.map(\.triggerSeq)).count == 3)
        // Pages: older than the last of the page before, newest first, nothing after the oldest.
        let first2 = try await engine.store.settlements(tenant: "default", status: nil, before: nil, limit: 2)
        let rest = try await engine.store.settlements(
            tenant: "default", status: nil, before: first2.last?.id, limit: 10)
        #expect((first2 + rest).map(\.id) == all.map(\.id))
        #expect(
            try await engine.store.settlements(tenant: "default", status: nil, before: all.last?.id, limit: 10).isEmpty)
        #expect(
            try await engine.store.settlements(tenant: "globex", status: nil, before: all.first?.id, limit: 10).isEmpty)
        #expect(try await LedgerVerifier(store: engine.store, verifier: nil).verify().problem == nil)
    }

    @Test(
        "PostgreSQL settlement needs no blocking thread: it completes while every thread of NIO's blocking pool is held",
        arguments: [StoreBackend.postgres])
    func noBlockingThreads(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "settle")
        defer { location.remove() }
        let engine = try await engine(location)
        _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
        try await signal(engine, "work", ["units": 4])
        // Hold every thread of the shared blocking pool until settlement is done; a job that is
        // not released within 60 s says settlement waited for one of its threads.
        let release = DispatchSemaphore(value: 0)
        let holders = (0..<ProcessInfo.processInfo.activeProcessorCount * 2).map { _ in
            Task { try await NIOThreadPool.singleton.runIfActive { release.wait(timeout: .now() + 60) == .timedOut } }
        }
        let report = try await engine.settle()
        for _ in holders { release.signal() }
        var timedOut: [Bool] = []
        for holder in holders { timedOut.append(try await holder.value) }
        #expect(report.settlements.map(\.status) == [.posted])
        #expect(!timedOut.contains(true), "settlement finished only after the blocking pool was freed")
    }

    @Test(
        "approval: the maker cannot approve, the role must match, each principal counts once, then it posts",
        arguments: StoreBackend.allCases)
    func approvals(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "settle")
        defer { location.remove() }
        let engine = try await engine(location)
        _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
        try await signal(engine, "invoice", ["total": 250])
        let pending = try #require(try await engine.settle().settlements.first)
        #expect(pending.status == .pendingApproval && pending.maker == "cli:maker")
        #expect(try await balances(engine)["vendor"] == AccountBalance(creditsPending: 25_000))
        await #expect(throws: Refusal.self) {
            try await engine.decide(pending.id, .approve, principal: "cli:maker", role: "finance", reason: nil)
        }
        await #expect(throws: Refusal.self) {
            try await engine.decide(pending.id, .approve, principal: "alice", role: "sales", reason: nil)
        }
        #expect(
            try await engine.decide(pending.id, .approve, principal: "alice", role: "finance", reason: nil).status
                == .pendingApproval)
        await #expect(throws: Refusal.self) {
            try await engine.decide(pending.id, .approve, principal: "alice", role: "finance", reason: nil)
        }
        let posted = try await engine.decide(pending.id, .approve, principal: "bob", role: "finance", reason: "PO 7781")
        #expect(posted.status == .posted)
        #expect(try await balances(engine)["vendor"] == AccountBalance(creditsPosted: 25_000))
        let (_, transfers, approvals) = try #require(try await engine.store.settlement(pending.id, tenant: "default"))
        // The pending transfer stays as it was; its posting is a new transfer naming it.
        #expect(transfers.map(\.phase) == [.pending, .posted])
        #expect(transfers.last?.pendingID == transfers.first?.id && transfers.first?.pendingID == nil)
        #expect(approvals.map(\.principal) == ["alice", "bob"])
        // A mistake is corrected by reversing entries, never by an edit.
        let voided = try await engine.reverse(pending.id, reason: "paid twice", actor: "cli:controller")
        #expect(voided.status == .voided && voided.reason == "paid twice")
        #expect(try await balances(engine)["vendor"] == AccountBalance(debitsPosted: 25_000, creditsPosted: 25_000))
        let (_, booked, _) = try #require(try await engine.store.settlement(pending.id, tenant: "default"))
        #expect(
            booked.map(\.debit) == ["ops", "ops", "vendor"] && booked.map(\.credit) == ["vendor", "vendor", "ops"])
        await #expect(throws: Refusal.self) {
            try await engine.reverse(pending.id, reason: "again", actor: "cli:controller")
        }
    }

    @Test(
        "a rejection or an expired approval voids the reservation; a balance limit rejects the settlement",
        arguments: StoreBackend.allCases)
    func rejectionExpiryAndLimits(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "settle")
        defer { location.remove() }
        // The engine's clock, moved by the test: expiry needs no waiting.
        let time = Mutex(Date())
        let engine = try await engine(location, clock: { time.withLock { $0 } })
        _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
        try await signal(engine, "invoice", ["total": 500])
        let expiring = try #require(try await engine.settle().settlements.first)
        #expect(try await engine.settle().expired == 0)
        time.withLock { $0 = $0.addingTimeInterval(3601) }
        #expect(try await engine.settle().expired == 1)
        #expect(try await engine.store.settlement(expiring.id, tenant: "default")?.0.status == .expired)
        await #expect(throws: Refusal.self) {
            try await engine.decide(expiring.id, .approve, principal: "alice", role: "finance", reason: nil)
        }
        try await signal(engine, "invoice", ["total": 300])
        let rejected = try #require(try await engine.settle().settlements.first)
        #expect(
            try await engine.decide(rejected.id, .reject, principal: "carol", role: "finance", reason: "duplicate")
                .status == .rejected)
        #expect(try await balances(engine)["vendor"] == AccountBalance())
        // The wallet may not be overdrawn: the settlement is rejected, saying why, and nothing moves.
        try await signal(engine, "spend", [:])
        let overdraw = try #require(try await engine.settle().settlements.first)
        #expect(overdraw.status == .rejected)
        #expect(overdraw.reason?.contains("debits_must_not_exceed_credits") == true)
        #expect(try await balances(engine)["wallet"] == AccountBalance())
        // A rules file that changes an account's currency is refused whole.
        await #expect(throws: Refusal.self) {
            try await engine.loadRules(
                Self.rules.replacingOccurrences(of: "currency: EUR", with: "currency: USD"), file: "usd.yaml",
                actor: "cli:admin")
        }
        #expect(try await engine.store.activeRuleSet(tenant: "default")?.version == 1)
    }

    @Test(
        "property: after any sequence of events and decisions the journal balances and every transfer matches its settlement",
        arguments: StoreBackend.allCases)
    func trialBalance(_ backend: StoreBackend) async throws {
        var random = SeededRandom(seed: 20_261_126)
        for round in 0..<6 {
            let location = try TestStore(backend, label: "settle-\(round)")
            defer { location.remove() }
            let engine = try await engine(location)
            _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
            for _ in 0..<Int.random(in: 5...25, using: &random) {
                switch Int.random(in: 0..<3, using: &random) {
                case 0:
                    try await signal(
                        engine, "work", ["units": .number(Number(Int.random(in: -3...40, using: &random)))])
                case 1:
                    try await signal(
                        engine, "invoice", ["total": .number(Number(Int.random(in: 1...400, using: &random)))])
                default: try await signal(engine, "spend", [:])
                }
                if Bool.random(using: &random) { _ = try await engine.settle() }
                for pending in try await engine.store.settlements(
                    tenant: "default", status: .pendingApproval, before: nil, limit: 50)
                where Bool.random(using: &random) {
                    let decision: ApprovalRecord.Decision = Bool.random(using: &random) ? .approve : .reject
                    for principal in ["alice", "bob"] {
                        _ = try? await engine.decide(
                            pending.id, decision, principal: principal, role: "finance", reason: nil)
                    }
                }
            }
            _ = try await engine.settle()
            let accounts = try await engine.store.accounts(tenant: "default")
            // Balances follow from the transfers alone.
            var derived: [String: AccountBalance] = [:]
            var all: [TransferRecord] = []
            while true {
                let page = try await engine.store.transfers(
                    tenant: "default", from: (all.last?.id ?? 0) + 1, limit: 100)
                guard !page.isEmpty else { break }
                all += page
            }
            let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
            for transfer in all {
                let amount = transfer.amount.minorUnits
                switch (transfer.phase, transfer.pendingID.flatMap { byID[$0] }) {
                case (.pending, _):
                    derived[transfer.debit, default: AccountBalance()].debitsPending += amount
                    derived[transfer.credit, default: AccountBalance()].creditsPending += amount
                case (let phase, let pending?):
                    derived[pending.debit, default: AccountBalance()].debitsPending -= amount
                    derived[pending.credit, default: AccountBalance()].creditsPending -= amount
                    if phase == .posted {
                        derived[transfer.debit, default: AccountBalance()].debitsPosted += amount
                        derived[transfer.credit, default: AccountBalance()].creditsPosted += amount
                    }
                case (.posted, nil):
                    derived[transfer.debit, default: AccountBalance()].debitsPosted += amount
                    derived[transfer.credit, default: AccountBalance()].creditsPosted += amount
                case (.voided, nil): Issue.record("a void must name its pending transfer")
                }
            }
            for account in accounts {
                #expect(account.balance == derived[account.definition.id, default: AccountBalance()], "round \(round)")
            }
            let debits = accounts.reduce(Int64(0)) { $0 + $1.balance.debitsPosted + $1.balance.debitsPending }
            let credits = accounts.reduce(Int64(0)) { $0 + $1.balance.creditsPosted + $1.balance.creditsPending }
            #expect(debits == credits, "round \(round)")
            for settlement in try await engine.store.settlements(
                tenant: "default", status: nil, before: nil, limit: 1000)
            {
                let (_, transfers, _) = try #require(
                    try await engine.store.settlement(settlement.id, tenant: "default"))
                // Every pending transfer is resolved at most once, by a transfer of the same amount.
                let pending = transfers.filter { $0.phase == .pending }
                let resolutions = transfers.filter { $0.pendingID != nil }
                #expect(Set(resolutions.compactMap(\.pendingID)).isSubset(of: Set(pending.map(\.id))))
                #expect(Set(resolutions.compactMap(\.pendingID)).count == resolutions.count)
                let moved = transfers.filter { $0.phase == .posted }.reduce(Int64(0)) { $0 + $1.amount.minorUnits }
                switch settlement.status {
                case .posted:
                    #expect(
                        resolutions.allSatisfy { $0.phase == .posted } && moved == abs(settlement.amount.minorUnits))
                    #expect(resolutions.count == pending.count)
                case .pendingApproval: #expect(resolutions.isEmpty && !pending.isEmpty)
                case .rejected, .expired: #expect(resolutions.allSatisfy { $0.phase == .voided } && moved == 0)
                case .voided: Issue.record("nothing reverses settlements in this test")
                case .calculated, .approved: Issue.record("settlement \(settlement.id) left \(settlement.status)")
                }
            }
            #expect(try await LedgerVerifier(store: engine.store, verifier: nil).verify().problem == nil)
        }
    }

    @Test(
        "the journal is append-only: the store refuses to change or delete a transfer, whoever asks",
        arguments: StoreBackend.allCases)
    func appendOnly(_ backend: StoreBackend) async throws {
        let location = try TestStore(backend, label: "settle")
        defer { location.remove() }
        let engine = try await engine(location)
        _ = try await engine.loadRules(Self.rules, file: "rules.yaml", actor: "cli:admin")
        try await signal(engine, "invoice", ["total": 250])
        _ = try await engine.settle()
        for statement in [
            "UPDATE transfers SET phase = 'posted'", "UPDATE transfers SET amount = 1", "DELETE FROM transfers",
        ] {
            #expect(throws: (any Error).self, "\(statement)") { try location.executeOutside(statement) }
        }
        let transfers = try await engine.store.transfers(tenant: "default", from: 1, limit: 10)
        #expect(transfers.map(\.phase) == [.pending] && transfers.first?.amount.minorUnits == 25_000)
    }
}
