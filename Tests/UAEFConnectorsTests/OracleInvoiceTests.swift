import Foundation
import Logging
import Testing
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

@testable import UAEFConnectors

/// `oracle.invoice.create` through a real engine on SQLite, against the fake Payables invoices
/// resource on loopback (`FakeOracleServer`, written from Oracle's REST reference and examples).
@Suite("Oracle Payables invoices against the fake Fusion pod")
struct OracleInvoiceTests {
    /// The fake, and an engine with the connector `fusion` pointing at it.
    struct Setup: Sendable {
        let server: FakeOracleServer
        let connectors: ConnectorEngine
        var store: any WorkflowStore { connectors.store }

        func run(_ tasks: String) async throws -> (status: RunStatus?, tasks: [String: TaskRecord]) {
            try await connectors.run(tasks)
        }

        /// One create task of `invoice`, with `attempts` attempts.
        func create(_ invoice: String, id: String = "create", attempts: Int = 1) async throws -> (
            status: RunStatus?, task: TaskRecord?
        ) {
            let (status, tasks) = try await run(
                """
                  - id: \(id)
                    agent: oracle.invoice.create
                    retry: {max_attempts: \(attempts), backoff: 10ms}
                    with: {connector: fusion, invoice: \(invoice)}
                """)
            return (status, tasks[id])
        }
    }

    func withSetup(
        password: String = "Pa55-fusion", pollsToFinish: Int = 2, _ body: @Sendable (Setup) async throws -> Void
    ) async throws {
        let server = FakeOracleServer(password: "Pa55-fusion", pollsToFinish: pollsToFinish)
        try await server.serving { port in
            try await ConnectorEngine.with(
                secrets: ["fusion-password": password],
                connectors: """
                    connectors:
                      - name: fusion
                        type: oracle
                        url: http://127.0.0.1:\(port)
                        user: INTEGRATION_USER
                        password: {$secret: fusion-password}
                        timeout: 5s
                    """
            ) { connectors in
                try await body(Setup(server: server, connectors: connectors))
            }
        }
    }

    static func invoice(number: String? = nil, extra: String = "") -> String {
        var fields = [
            "InvoiceCurrency: USD", "InvoiceAmount: 130.8", "InvoiceDate: \"2026-11-30\"",
            "BusinessUnit: Vision Operations", "Supplier: Advanced Network Devices", "SupplierSite: FRESNO",
            "Description: Supplies",
            """
            invoiceLines: [{LineNumber: 1, LineType: Item, Quantity: 1, UnitPrice: "100.25", LineAmount: "100.25", \
            PurchaseOrderNumber: "1000183", PurchaseOrderLineNumber: 1, PurchaseOrderScheduleLineNumber: 1}, \
            {LineNumber: 2, LineType: Freight, LineAmount: 30.55}]
            """,
        ]
        if let number { fields.append("InvoiceNumber: \"\(number)\"") }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    @Test(
        "an invoice with a PO-matched line and a freight line is created as Oracle's example shows; the output names it"
    )
    func creates() async throws {
        try await withSetup { setup in
            let (status, task) = try await setup.create(Self.invoice(number: "1000183-3"))
            #expect(status == .succeeded, "\(task?.error ?? "")")
            let output = try #require(task?.output)
            #expect(output["invoice_number"] == "1000183-3" && output["adopted"] == false)
            #expect(output["validation_status"] == "Not Validated")
            let stored = try #require(setup.server.allInvoices.first)
            #expect(output["invoice_id"] == .string("\(stored["InvoiceId"]?.numberValue ?? Number(0))"))
            #expect(stored["InvoiceAmount"] == .number(Number(parsing: "130.8")!))
            let lines = stored["invoiceLines"]?.arrayValue ?? []
            #expect(lines.count == 2 && lines[0]["UnitPrice"] == "100.25" && lines[0]["PurchaseOrderLineNumber"] == "1")
        }
    }

    @Test("an answer lost after Oracle created the invoice: the retry finds it by number and supplier and adopts it")
    func lostAnswerIsAdopted() async throws {
        try await withSetup { setup in
            setup.server.inject([.loseAnswer(status: 504)])
            let (status, task) = try await setup.create(Self.invoice(), attempts: 3)
            #expect(status == .succeeded, "\(task?.error ?? "")")
            #expect(task?.attempts == 2 && task?.output?["adopted"] == true)
            #expect(task?.output?["invoice_number"]?.stringValue?.hasPrefix("UAEF-") == true)
            #expect(setup.server.allInvoices.count == 1, "exactly one invoice")
        }
    }

    @Test(
        "an invoice number already used for the supplier is adopted; Oracle's AP-810776 refusal is what a create without the lookup gets"
    )
    func duplicateNumber() async throws {
        try await withSetup { setup in
            let first = try await setup.create(Self.invoice(number: "INV-7"), id: "first")
            let second = try await setup.create(Self.invoice(number: "INV-7"), id: "second")
            #expect(first.status == .succeeded && second.status == .succeeded)
            #expect(second.task?.output?["adopted"] == true)
            #expect(second.task?.output?["invoice_id"] == first.task?.output?["invoice_id"])
            #expect(setup.server.allInvoices.count == 1)
            // The refusal itself, asked for directly.
            let (code, answer) = try await ExternalProcess.run([
                "curl", "-sS", "-u", "INTEGRATION_USER:Pa55-fusion", "-H",
                "Content-Type: application/vnd.oracle.adf.resourceitem+json", "-H",
                "Accept: application/vnd.oracle.adf.error+json", "-d",
                #"{"InvoiceNumber": "INV-7", "InvoiceCurrency": "USD", "InvoiceAmount": 1, "InvoiceDate": "2026-11-30", "BusinessUnit": "Vision Operations", "Supplier": "Advanced Network Devices", "SupplierSite": "FRESNO"}"#,
                "http://127.0.0.1:\(try await port(of: setup))/fscmRestApi/resources/11.13.18.05/invoices",
            ])
            #expect(code == 0)
            #expect(answer.contains("AP-810776") && answer.contains("o:errorDetails"), "\(answer)")
        }
    }

    /// The fake's port, from the connector's URL.
    func port(of setup: Setup) async throws -> Int {
        let record = try await setup.store.connector(named: "fusion", tenant: "default")
        return URL(string: record?.settings["url"]?.stringValue ?? "")?.port ?? 0
    }

    @Test("a bad invoice fails before anything is sent, with every problem naming its attribute")
    func invalidInvoice() async throws {
        try await withSetup { setup in
            let (status, task) = try await setup.create(
                """
                {InvoiceCurrency: USD, InvoiceAmount: "130.805", InvoiceDate: "30/11/2026", Supplier: "O'Brien; Ltd", \
                SupplierSite: FRESNO-HEADQUARTERS, invoiceLine: [], invoiceLines: [{LineType: Item, LineAmount: 1}]}
                """, attempts: 3)
            #expect(status == .failed && task?.attempts == 1)
            let error = task?.error ?? ""
            for expected in [
                "invoice.BusinessUnit: required for invoices",
                "invoice.InvoiceAmount: 130.805 has more decimals than USD's 2",
                "invoice.InvoiceDate: expected a day as yyyy-MM-dd",
                "invoice.SupplierSite: 19 characters; Oracle allows at most 15",
                "invoice.invoiceLine: not a property UAEF creates on invoices",
                "invoice.invoiceLines[0].LineNumber: required for invoiceLines",
                "invoice.Supplier: may not hold ' ; or \"",
            ] {
                #expect(error.contains(expected), "missing \(expected) in \(error)")
            }
            #expect(setup.server.allInvoices.isEmpty)
        }
    }

    @Test("a wrong password is Oracle's 401, not retried, the password kept out of the error")
    func wrongPassword() async throws {
        try await withSetup(password: "not-it-Pa55") { setup in
            let (status, task) = try await setup.create(Self.invoice(), attempts: 3)
            #expect(status == .failed && task?.attempts == 1)
            let error = task?.error ?? ""
            #expect(error.contains("HTTP 401") && !error.contains("not-it-Pa55"), "\(error)")
        }
    }

    // MARK: Journal import

    static let journal = """
        {ledger_id: "300000046975971", source: Spreadsheet, category: Adjustment, currency: EUR, \
        accounting_date: "2026-12-01", description: "Settlement stl_1", \
        lines: [{account: "01-200-4100-0000", debit: "1190.00", description: "Vendor payable"}, \
        {account: "01-000-2210-0000", credit: 1190, description: "Accrued liabilities"}]}
        """

    func importJournal(_ setup: Setup, journal: String = journal, attempts: Int = 1) async throws -> (
        status: RunStatus?, task: TaskRecord?
    ) {
        let (status, tasks) = try await setup.run(
            """
              - id: book
                agent: oracle.journal.import
                retry: {max_attempts: \(attempts), backoff: 10ms}
                with: {connector: fusion, poll_interval: 50ms, journal: \(journal)}
            """)
        return (status, tasks["book"])
    }

    @Test(
        "a journal goes as GlInterface.csv in an FBDI zip; the ESS request is polled to SUCCEEDED; its id and its log are in the ledger"
    )
    func journalImport() async throws {
        try await withSetup(pollsToFinish: 3) { setup in
            let (status, task) = try await importJournal(setup)
            #expect(status == .succeeded, "\(task?.error ?? "")")
            let output = try #require(task?.output)
            #expect(output["status"] == "SUCCEEDED" && output["lines"] == 2 && output["resumed"] == false)
            let imported = try #require(setup.server.imports.first)
            #expect(setup.server.imports.count == 1 && imported["problems"] == [] && imported["rows"] == 2)
            #expect(imported["request_id"] == output["request_id"] && imported["group_id"] == output["group_id"])
            #expect(imported["status_reads"] == 3)
            let events = try await setup.store.events(from: 0, limit: 1_000)
            let submitted = events.filter { $0.event.type == "oracle.journal_import.submitted" }
            #expect(submitted.count == 1 && submitted.first?.event.data["request_id"] == output["request_id"])
            // The log, read from the deflated zip downloadESSJobExecutionDetails answers.
            let logs = events.filter { $0.event.type == "oracle.journal_import.log" }
            let log = try #require(logs.first?.event.payloads["log"]?.stringValue)
            #expect(logs.count == 1 && output["log_recorded"] == true)
            #expect(log.contains("Lines read from GL_INTERFACE: 2") && log.contains("Status: SUCCEEDED"), "\(log)")
            #expect(logs.first?.event.data["bytes"] == .number(Number(log.utf8.count)))
        }
    }

    @Test(
        "an import whose answer was lost is not sent again: the next attempt fails, saying what to check, and so does a plain retry; a retry naming the task sends it again"
    )
    func lostImportAnswer() async throws {
        try await withSetup { setup in
            setup.server.inject([.loseAnswer(status: 504)])
            let (status, task) = try await importJournal(setup, attempts: 3)
            #expect(status == .failed && task?.attempts == 2)
            #expect(task?.error?.contains("whether the import started is unknown") == true, "\(task?.error ?? "")")
            #expect(setup.server.imports.count == 1, "sent once")

            // A plain retry resumes from the checkpoint and fails the same way; naming the task (after
            // checking Oracle, as the error says) drops it, and the journal is sent again.
            let run = try #require(task?.runID)
            let engine = setup.connectors.engine
            _ = try #require(try await engine.retry(run, actor: "test", leased: true))
            #expect(try await engine.execute([run])[run] == .failed)
            #expect(setup.server.imports.count == 1, "still sent once")
            _ = try #require(try await engine.retry(run, from: ["book"], actor: "test", leased: true))
            #expect(try await engine.execute([run])[run] == .succeeded)
            #expect(setup.server.imports.count == 2)
            // Sent under a new interface group: rows the first import left are not taken with it.
            #expect(setup.server.imports[0]["group_id"] != setup.server.imports[1]["group_id"])
            let book = try #require(try await setup.store.snapshot(of: run, tenant: "default")?.tasks.first)
            #expect(book.output?["resumed"] == false && book.output?["status"] == "SUCCEEDED")
        }
    }

    @Test(
        "a refused import (400, or ReqstId -1) and an import that ends in ERROR fail the task without retrying, with the reason"
    )
    func refusedAndFailedImports() async throws {
        try await withSetup { setup in
            setup.server.inject([.refuse(status: 400)])
            let refused = try await importJournal(setup, attempts: 2)
            #expect(refused.status == .failed && refused.task?.attempts == 1)
            #expect(refused.task?.error?.contains("HTTP 400") == true, "\(refused.task?.error ?? "")")
            #expect(setup.server.imports.isEmpty)
            setup.server.inject([.rejectJob])
            let rejected = try await importJournal(setup, attempts: 3)
            #expect(rejected.status == .failed && rejected.task?.attempts == 1)
            #expect(rejected.task?.error?.contains("importBulkData was refused (ReqstId -1)") == true)
            let task = try #require(rejected.task)
            let checkpoint = try await setup.store.taskCheckpoint(tenant: "default", run: task.runID, taskKey: task.key)
            #expect(checkpoint?.value["phase"] == "refused", "a refused import may be sent again")
            setup.server.inject([.jobError])
            let failed = try await importJournal(setup, attempts: 3)
            #expect(failed.status == .failed && failed.task?.attempts == 1)
            #expect(failed.task?.error?.contains("ended ERROR") == true, "\(failed.task?.error ?? "")")
            // The error ends with the log's last lines: what Oracle found wrong.
            #expect(
                failed.task?.error?.contains("the end of its log:\n") == true
                    && failed.task?.error?.contains("Error: the import failed (injected fault)\nStatus: ERROR") == true,
                "\(failed.task?.error ?? "")")
        }
    }

    @Test("a log's tail is its last 20 lines and 2,000 characters at most")
    func logTail() {
        let log = (1...30).map { "line \($0)" }.joined(separator: "\n") + "\n"
        #expect(OracleIntegrations.tail(of: log) == (11...30).map { "line \($0)" }.joined(separator: "\n") + "\n")
        let long = String(repeating: "x", count: 5_000)
        #expect(OracleIntegrations.tail(of: long) == "…" + String(repeating: "x", count: 2_000))
    }

    @Test("an unbalanced or malformed journal fails before anything is sent, every problem named")
    func invalidJournal() async throws {
        try await withSetup { setup in
            let (status, task) = try await importJournal(
                setup,
                journal: """
                    {source: "Spread,sheet", category: Adjustment, currency: EUR, accounting_date: "2026-13-01", \
                    lines: [{account: "01--4100", debit: "10.001"}, {account: "01-000-2210", debit: 5, credit: 5}, \
                    {account: "01-000-2210", credit: 7}]}
                    """)
            #expect(status == .failed && task?.attempts == 1)
            let error = task?.error ?? ""
            for expected in [
                "journal.ledger_id: required", "journal.source: may not hold a comma",
                "journal.accounting_date: expected a day as yyyy-MM-dd",
                "journal.lines[0].account: expected 1 to 30 segments",
                "journal.lines[0].debit: 10.001 has more decimals than EUR's 2",
                "journal.lines[1]: give debit or credit, one of them",
            ] {
                #expect(error.contains(expected), "missing \(expected) in \(error)")
            }
            #expect(setup.server.imports.isEmpty)
        }
        try await withSetup { setup in
            let (_, task) = try await importJournal(
                setup,
                journal: """
                    {ledger_id: 1, source: Spreadsheet, category: Adjustment, currency: EUR, accounting_date: "2026-12-01", \
                    lines: [{account: "01-200-4100", debit: 10}, {account: "01-000-2210", credit: 9.99}]}
                    """)
            #expect(task?.error?.contains("debits (10) and credits (9.99) differ") == true, "\(task?.error ?? "")")
        }
    }
}
