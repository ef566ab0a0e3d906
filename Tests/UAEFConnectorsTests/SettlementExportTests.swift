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
@Suite("Settlements exported as ERP invoices")
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

    /// Settles one run under ``rules``, then delivers the connector's subscription twice (the
    /// second time as a retry would, every event again); the settlements and the events.
    func exportOnce(_ connectors: ConnectorEngine, connector: String) async throws -> (
        settlements: [SettlementRecord], events: [EventRecord]
    ) {
        _ = try await connectors.engine.loadRules(Self.rules, file: "rules.yaml", actor: "test")
        let (status, _) = try await connectors.run("  - {id: work, agent: noop}\n")
        #expect(status == .succeeded)
        let report = try await connectors.engine.settle()
        #expect(report.settlements.count == 2 && report.settlements.allSatisfy { $0.status == .posted })
        let record = try #require(try await connectors.store.connector(named: connector, tenant: "default"))
        let subscriber = try #require(Subscriber(store: connectors.store, record: record))
        let resolved = try await ResolvedConnector.resolve(
            record, kind: try #require(ConnectorDefinition.Kind(rawValue: record.kind)),
            resolver: SecretResolver(store: connectors.store, box: connectors.engine.configuration.secrets),
            caller: "test")
        let kind = try #require(ConnectorDefinition.Kind(rawValue: record.kind))
        guard case .success(let export) = SettlementExport.parse(record.settings["export"] ?? .null, kind: kind) else {
            Issue.record("the export does not parse")
            return ([], [])
        }
        let channel = try await SettlementExportChannel.open(
            record, resolved, export: export, store: connectors.store, policy: .unrestricted)
        let logger = Logger(label: "test")
        _ = try await subscriber.enqueue(now: Date())
        _ = try await subscriber.deliverDue(through: channel, now: Date(), logger: logger)
        let events = try await connectors.store.events(from: 0, limit: 1_000)
        for event in events where event.event.type == "settlement.posted" {
            #expect(await channel.deliver(id: "again", event: event, logger: logger).isDelivered)
        }
        await channel.close()
        return (report.settlements, try await connectors.store.events(from: 0, limit: 1_000))
    }

    @Test("each posted settlement becomes one SAP supplier invoice with a G/L item; a repeated delivery adopts it")
    func sap() async throws {
        let server = FakeSAPServer(options: .init(password: "pw-Sap1"))
        try await withServer(server) { port in
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
        try await withServer(server) { port in
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
                          business_unit: Vision Operations
                          supplier_site: FRESNO
                          accounts:
                            "payable:acme": {supplier: Advanced Network Devices}
                            "expense:services": {account: "01-200-4100-0000"}
                            "expense:freight": {account: "01-200-4200-0000"}
                    """
            ) { connectors in
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
}
