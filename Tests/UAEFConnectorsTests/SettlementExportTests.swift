import Foundation
import Logging
import Testing
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSettlement
import UAEFStore
import UAEFTestSupport

@testable import UAEFConnectors

/// ERP connectors' subscriptions with an `export`: a posted settlement's vendor payable becomes a
/// supplier invoice in the fake SAP service and the fake Fusion pod, exactly once, with the
/// document's id in the ledger beside the settlement.
@Suite("Settlements exported as ERP invoices and journals")
struct SettlementExportTests {
    static let rules = """
        accounts:
          - {id: "expense:services", type: expense, currency: EUR}
          - {id: "expense:freight", type: expense, currency: EUR}
          - {id: "payable:acme", type: liability, currency: EUR}
        rules:
          - id: book-services
            on: run.succeeded
            match: {workflow: erp}
            amount: {fixed: "1000.00"}
            currency: EUR
            from: "expense:services"
            to: "payable:acme"
          - id: book-freight
            on: run.succeeded
            match: {workflow: erp}
            amount: {fixed: "190.00"}
            currency: EUR
            from: "expense:freight"
            to: "payable:acme"
        """

    /// Settles one run under ``rules`` (two settlements) and opens the connector's subscription:
    /// the settlements, the subscriber with their deliveries enqueued, and its channel.
    func settleAndOpen(_ connectors: ConnectorEngine, connector: String) async throws -> (
        settlements: [SettlementRecord], subscriber: Subscriber, channel: any DeliveryChannel
    ) {
        _ = try await connectors.engine.loadRules(Self.rules, file: "rules.yaml", actor: "test")
        let (status, _) = try await connectors.run("  - {id: work, agent: noop}\n")
        #expect(status == .succeeded)
        let report = try await connectors.engine.settle()
        #expect(report.settlements.count == 2 && report.settlements.allSatisfy { $0.status == .posted })
        let record = try #require(try await connectors.store.connector(named: connector, tenant: "default"))
        let subscriber = try #require(Subscriber(store: connectors.store, record: record))
        let kind = try #require(ConnectorDefinition.Kind(rawValue: record.kind))
        let resolved = try await ResolvedConnector.resolve(
            record, kind: kind,
            resolver: SecretResolver(store: connectors.store, box: connectors.engine.configuration.secrets),
            caller: "test")
        let export = try SettlementExport.parse(record.settings["export"] ?? .null, kind: kind).get()
        let channel = try await SettlementExportChannel.open(
            record, resolved, export: export, store: connectors.store, policy: .unrestricted)
        _ = try await subscriber.enqueue(now: Date())
        return (report.settlements, subscriber, channel)
    }

    /// Settles, then delivers the connector's subscription twice (the second time as a retry
    /// would, every event again); the settlements and the events.
    func exportOnce(_ connectors: ConnectorEngine, connector: String) async throws -> (
        settlements: [SettlementRecord], events: [EventRecord]
    ) {
        let (settlements, subscriber, channel) = try await settleAndOpen(connectors, connector: connector)
        let logger = Logger(label: "test")
        _ = try await subscriber.deliverDue(through: channel, now: Date(), logger: logger)
        let events = try await connectors.store.events(from: 0, limit: 1_000)
        for event in events where event.event.type == "settlement.posted" {
            #expect(await channel.deliver(Self.delivery("again", of: event), event: event, logger: logger).isDelivered)
        }
        await channel.close()
        return (settlements, try await connectors.store.events(from: 0, limit: 1_000))
    }

    /// A delivery of `event` as a subscriber claims it, `attempts` made before.
    static func delivery(_ id: String, of event: EventRecord, attempts: Int = 1) -> DeliveryRecord {
        DeliveryRecord(
            tenant: "default", connector: "fusion", id: id, eventSeq: event.seq, eventType: event.event.type,
            attempts: attempts, nextAttemptAt: Date(), createdAt: Date(), updatedAt: Date())
    }

    /// Delivers what is due, again and again, until nothing is pending (60 s at most: a loaded
    /// machine slows every round); the connector's deliveries.
    func deliverAll(_ subscriber: Subscriber, through channel: any DeliveryChannel, store: any WorkflowStore)
        async throws -> [DeliveryRecord]
    {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            _ = try await subscriber.deliverDue(through: channel, now: Date(), logger: Logger(label: "test"))
            let pending = try await store.deliveries(
                tenant: "default", connector: nil, status: .pending, before: nil, limit: 100)
            if pending.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await store.deliveries(tenant: "default", connector: nil, status: nil, before: nil, limit: 100)
    }

    @Test("each posted settlement becomes one SAP supplier invoice with a G/L item; a repeated delivery adopts it")
    func sap() async throws {
        let server = FakeSAPServer(options: .init(password: "pw-Sap1"))
        try await server.serving { port in
            try await ConnectorEngine.with(
                secrets: ["sap-password": "pw-Sap1"],
                connectors: """
                    connectors:
                      - name: s4
                        type: sap
                        url: http://127.0.0.1:\(port)\(FakeSAPServer.servicePath)
                        user: COMM_USER
                        password: {$secret: sap-password}
                        subscription: {events: [settlement.posted]}
                        export:
                          company_code: "1010"
                          accounts:
                            "payable:acme": {supplier: "17300001"}
                            "expense:services": {account: "0061008000", cost_center: "0010101101", tax_code: V1}
                            "expense:freight": {account: "0061009000", tax_code: V1}
                    """
            ) { connectors in
                let (settlements, events) = try await exportOnce(connectors, connector: "s4")
                let invoices = server.invoices
                #expect(invoices.count == 2, "one invoice per settlement, not one per delivery")
                let amounts = Set(invoices.compactMap { $0["InvoiceGrossAmount"]?.stringValue })
                #expect(amounts == ["1000.00", "190.00"])
                let items = invoices.compactMap { $0["to_SupplierInvoiceItemGLAcct"]?["results"]?.arrayValue?.first }
                #expect(Set(items.compactMap { $0["GLAccount"]?.stringValue }) == ["0061008000", "0061009000"])
                let created = events.filter { $0.event.type == "erp.document_created" }
                #expect(created.count == 4)
                #expect(Set(created.map(\.event.subject)) == Set(settlements.map(\.id)))
                #expect(created.filter { $0.event.data["adopted"] == true }.count == 2)
                #expect(created.allSatisfy { $0.event.data["supplier_invoice"]?.stringValue?.hasPrefix("51") == true })
            }
        }
    }

    @Test("each posted settlement becomes one Oracle Payables invoice with a distribution combination per line")
    func oracle() async throws {
        let server = FakeOracleServer(password: "pw-Fusion1")
        let export = """
            business_unit: Vision Operations
            supplier_site: FRESNO
            accounts:
              "payable:acme": {supplier: Advanced Network Devices}
              "expense:services": {account: "01-200-4100-0000"}
              "expense:freight": {account: "01-200-4200-0000"}
            """
        try await withFusion(server, export: export) { connectors in
            let (settlements, events) = try await exportOnce(connectors, connector: "fusion")
            let invoices = server.allInvoices
            #expect(invoices.count == 2)
            let combinations = invoices.compactMap {
                $0["invoiceLines"]?.arrayValue?.first?["DistributionCombination"]?.stringValue
            }
            #expect(Set(combinations) == ["01-200-4100-0000", "01-200-4200-0000"])
            let created = events.filter { $0.event.type == "erp.document_created" }
            #expect(Set(created.map(\.event.subject)) == Set(settlements.map(\.id)))
            #expect(created.allSatisfy { $0.event.data["invoice_id"] != nil })
        }
    }

    /// Runs `body` with `server` serving and an engine whose connector `fusion` on it is
    /// subscribed to posted settlements with `export` (the mapping's YAML lines).
    func withFusion(
        _ server: FakeOracleServer, export: String, _ body: (ConnectorEngine) async throws -> Void
    ) async throws {
        try await server.serving { port in
            try await ConnectorEngine.with(
                secrets: ["fusion-password": "pw-Fusion1"],
                connectors: """
                    connectors:
                      - name: fusion
                        type: oracle
                        url: http://127.0.0.1:\(port)
                        user: INTEGRATION_USER
                        password: {$secret: fusion-password}
                        subscription: {events: [settlement.posted]}
                        export:

                    """ + export.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"),
                body)
        }
    }

    /// An export of settlements as Oracle journals.
    static let journalExport = """
        as: journal
        ledger_id: "300000046975971"
        source: UAEF
        category: Accrual
        poll_interval: 50ms
        accounts:
          "payable:acme": {account: "01-000-2210-0000"}
          "expense:services": {account: "01-200-4100-0000"}
          "expense:freight": {account: "01-200-4200-0000"}
        """

    @Test(
        "as: journal, each posted settlement becomes one balanced Journal Import, polled to its end without spending retries; a repeated delivery sends nothing"
    )
    func journal() async throws {
        let server = FakeOracleServer(password: "pw-Fusion1", pollsToFinish: 3)
        try await withFusion(server, export: Self.journalExport) { connectors in
            let (settlements, subscriber, channel) = try await settleAndOpen(connectors, connector: "fusion")
            let deliveries = try await deliverAll(subscriber, through: channel, store: connectors.store)
            #expect(deliveries.map(\.status) == [.delivered, .delivered])
            #expect(deliveries.map(\.attempts) == [1, 1], "polls are not attempts")
            let imports = server.imports
            #expect(imports.count == 2)
            #expect(imports.allSatisfy { $0["rows"] == 2 && $0["problems"]?.arrayValue == [] })
            #expect(imports.allSatisfy { $0["status_reads"] == 3 })
            let events = try await connectors.store.events(from: 0, limit: 1_000)
            let created = events.filter { $0.event.type == "erp.document_created" }
            #expect(Set(created.map(\.event.subject)) == Set(settlements.map(\.id)))
            #expect(
                Set(created.compactMap { $0.event.data["request_id"]?.stringValue })
                    == Set(imports.compactMap { $0["request_id"]?.stringValue }))
            #expect(created.allSatisfy { $0.event.data["document"] == "journal" && $0.event.data["lines"] == 2 })
            #expect(events.filter { $0.event.type == "oracle.journal_import.submitted" }.count == 2)
            for event in events where event.event.type == "settlement.posted" {
                let delivery = try #require(deliveries.first { $0.eventSeq == event.seq })
                let outcome = await channel.deliver(delivery, event: event, logger: Logger(label: "test"))
                #expect(outcome.isDelivered)
            }
            #expect(server.imports.count == 2, "a repeated delivery imports nothing")
            let after = try await connectors.store.events(from: 0, limit: 1_000)
            #expect(after.filter { $0.event.type == "erp.document_created" }.count == 2)
            await channel.close()
        }
    }

    @Test(
        "a journal import whose answer was lost kills the delivery at once, naming the interface group; only a replay sends it again"
    )
    func journalLostAnswer() async throws {
        let server = FakeOracleServer(password: "pw-Fusion1", pollsToFinish: 1)
        server.inject([.loseAnswer(status: 504)])
        try await withFusion(server, export: Self.journalExport) { connectors in
            let (_, subscriber, channel) = try await settleAndOpen(connectors, connector: "fusion")
            let deliveries = try await deliverAll(subscriber, through: channel, store: connectors.store)
            let dead = try #require(deliveries.first { $0.status == .dead })
            #expect(deliveries.filter { $0.status == .delivered }.count == 1)
            #expect(dead.attempts == 1)
            #expect(dead.lastError?.contains("whether the import started is unknown") == true)
            #expect(dead.lastError?.contains("interface group") == true)
            #expect(server.imports.count == 2, "one import per settlement, the lost one included")

            // A process that died before recording the outcome claims it again: still unknown.
            let event = try #require(
                try await connectors.store.events(in: dead.eventSeq..<(dead.eventSeq + 1), tenant: "default").first)
            var reclaimed = dead
            (reclaimed.status, reclaimed.attempts, reclaimed.lastError) = (.pending, 0, nil)
            reclaimed.updatedAt = Date()
            let outcome = await channel.deliver(reclaimed, event: event, logger: Logger(label: "test"))
            #expect(outcome.isAbandoned, "a reclaimed delivery whose import is unknown is not sent again")
            #expect(server.imports.count == 2)

            let replayed = try await ConnectorRegistry(store: connectors.store, tenant: "default")
                .replayDeliveries("fusion", ids: nil, actor: "operator")
            #expect(replayed == [dead.id])
            let after = try await deliverAll(subscriber, through: channel, store: connectors.store)
            #expect(after.map(\.status) == [.delivered, .delivered])
            #expect(server.imports.count == 3, "the replay is the operator's word that the journal is not there")
            await channel.close()
        }
    }

    @Test("a journal import that ends in ERROR kills the delivery with the request id; nothing is sent again")
    func journalError() async throws {
        let server = FakeOracleServer(password: "pw-Fusion1", pollsToFinish: 1)
        server.inject([.jobError])
        try await withFusion(server, export: Self.journalExport) { connectors in
            let (_, subscriber, channel) = try await settleAndOpen(connectors, connector: "fusion")
            let deliveries = try await deliverAll(subscriber, through: channel, store: connectors.store)
            let dead = try #require(deliveries.first { $0.status == .dead })
            // The fault goes to whichever of the two concurrent imports the fake takes first.
            let requests = server.imports.compactMap { $0["request_id"]?.stringValue }
            #expect(requests.count == 2)
            #expect(
                requests.contains { dead.lastError?.contains("Journal Import request \($0) ") == true },
                "\(dead.lastError ?? "") names none of \(requests)")
            #expect(dead.lastError?.contains("ended ERROR") == true)
            #expect(
                dead.lastError?.contains("the end of its log:\n") == true
                    && dead.lastError?.contains("Error: the import failed (injected fault)") == true,
                "\(dead.lastError ?? "")")
            let events = try await connectors.store.events(from: 0, limit: 1_000)
            #expect(events.filter { $0.event.type == "oracle.journal_import.failed" }.count == 1)
            #expect(events.filter { $0.event.type == "erp.document_created" }.count == 1)
            _ = try await deliverAll(subscriber, through: channel, store: connectors.store)
            #expect(server.imports.count == 2)
            await channel.close()
        }
    }

    @Test("an Oracle journal export needs a ledger, source and category, and accounts mapped to combinations")
    func journalValidation() {
        for (export, expected) in [
            ("{as: journal, source: S, category: C, accounts: {a: {account: 01-1}}}", "ledger_id is required"),
            (
                "{as: journal, ledger_id: \"1\", source: S, category: C, accounts: {a: {account: \"01--1\"}}}",
                "accounts.a must be {account: COMBINATION}"
            ),
            (
                "{as: journal, ledger_id: \"1\", source: S, category: C, accounts: {a: {supplier: X}}}",
                "accounts.a must be {account: COMBINATION}"
            ),
            (
                "{as: journal, ledger_id: \"1\", source: S, category: C, poll_interval: 1ms, accounts: {a: {account: 01-1}}}",
                "poll_interval must be"
            ),
            ("{as: ledger, accounts: {a: {account: 01-1}}}", "as must be invoice or journal"),
            (
                "{as: journal, ledger_id: \"1\", source: S, category: C, business_unit: B, accounts: {a: {account: 01-1}}}",
                "business_unit is not a setting of an export as journal"
            ),
        ] {
            let text =
                "connectors:\n  - name: f\n    type: oracle\n    url: https://f.example\n    user: U\n    password: {$secret: p}\n    subscription: {events: [settlement.posted]}\n    export: \(export)\n"
            #expect {
                try ConnectorParser.parse(text, file: "c.yaml")
            } throws: { error in
                let messages = (error as? ValidationFailure)?.issues.map(\.description) ?? []
                let found = messages.contains { $0.contains(expected) }
                if !found { Issue.record("expected \(expected) in \(messages)") }
                return found
            }
        }
    }

    @Test("an ERP connector's subscription needs an export whose accounts map a supplier or an account")
    func validation() {
        let base =
            "connectors:\n  - name: s4\n    type: sap\n    url: https://s4.example/x\n    user: U\n    password: {$secret: p}\n"
        for (extra, expected) in [
            ("    subscription: {events: [settlement.posted]}\n", "subscription and export go together"),
            (
                "    subscription: {events: [settlement.posted]}\n    export: {accounts: {a: {supplier: S}}}\n",
                "company_code is required"
            ),
            (
                "    subscription: {events: [settlement.posted]}\n    export: {company_code: \"1010\", accounts: {a: {supplier: S, account: X}}}\n",
                "accounts.a must be {supplier: ID}"
            ),
            (
                "    subscription: {events: [settlement.posted]}\n    export: {as: journal, company_code: \"1010\", accounts: {a: {account: X}}}\n",
                "as: journal is Oracle's"
            ),
        ] {
            #expect {
                try ConnectorParser.parse(base + extra, file: "c.yaml")
            } throws: { error in
                let messages = (error as? ValidationFailure)?.issues.map(\.description) ?? []
                let found = messages.contains { $0.contains(expected) }
                if !found { Issue.record("expected \(expected) in \(messages)") }
                return found
            }
        }
    }
}

extension DeliveryOutcome {
    var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    var isAbandoned: Bool {
        if case .abandoned = self { return true }
        return false
    }
}
