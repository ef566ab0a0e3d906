import Foundation
import Testing
import UAEFCore
import UAEFTestSupport

/// `uaef` processes against `uaef dev fake-erp` (a process too): the SAP connector's probe,
/// exactly one supplier invoice when `uaef run` is killed after SAP created it and before the
/// answer was read, and one Oracle journal import when `uaef run` is killed while it waits.
@Suite("ERP connectors: uaef processes against the fake S/4HANA service and Fusion pod")
struct ERPConnectorTests {
    /// The fake ERP serving, a store with the password sealed, and the connector `s4` applied.
    struct Setup {
        let directory: TemporaryDirectory
        let fake: ChildProcess
        let port: Int
        let store: [String]
        let environment = ["UAEF_MASTER_KEY": Data((0..<32).map { UInt8($0 &+ 11) }).base64EncodedString()]

        /// The SAP connector `s4` on the fake's `port`.
        static func sapConnector(_ port: Int) -> String {
            """
            connectors:
              - name: s4
                type: sap
                url: http://127.0.0.1:\(port)/sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV
                user: COMM_USER
                password: {$secret: sap-password}
            """
        }

        init(
            erp: [String] = ["--sap"], password: String = "fake-Pa55", connector: (Int) -> String = sapConnector
        ) async throws {
            directory = try TemporaryDirectory("erp")
            let (fake, stdout, _) = try UAEFProcess.start(
                ["dev", "fake-erp", "--port", "0", "--json", "--password", "fake-Pa55"] + erp, in: directory.url)
            self.fake = fake
            var listening: JSONValue?
            let deadline = ContinuousClock.now + .seconds(30)
            while listening == nil, ContinuousClock.now < deadline, fake.isRunning {
                try await Task.sleep(for: .milliseconds(20))
                let text = (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
                if text.hasSuffix("\n") { listening = try? JSONValue(jsonText: text) }
            }
            port = try #require(listening?["port"]?.numberValue?.intValue)
            store = ["--store", "sqlite:" + directory.path("u.db")]
            try Data(password.utf8).write(to: directory.url.appendingPathComponent("password"))
            let set = try UAEFProcess.run(
                ["secrets", "set", "sap-password", "--value-file", "password"] + store, in: directory.url,
                environment: environment)
            #expect(set.status == 0, "\(set.stderr)")
            try connector(port).write(toFile: directory.path("connectors.yaml"), atomically: true, encoding: .utf8)
            let applied = try UAEFProcess.run(["connectors", "apply", "connectors.yaml"] + store, in: directory.url)
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        /// `curl` against the fake's `path`, with `body` posted when given; the answer as JSON.
        func fake(_ path: String, post body: String? = nil) async throws -> JSONValue {
            var arguments = ["curl", "-sS", "http://127.0.0.1:\(port)/\(path)"]
            if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
            let (status, output) = try await ExternalProcess.run(arguments)
            #expect(status == 0)
            return try JSONValue(jsonText: output)
        }

        func remove() {
            fake.terminate()
            fake.waitUntilExit()
            directory.remove()
        }
    }

    @Test("uaef connectors test fetches a CSRF token with the connector's user; a wrong password fails with exit 1")
    func probe() async throws {
        let good = try await Setup()
        defer { good.remove() }
        let ok = try UAEFProcess.run(
            ["connectors", "test", "s4", "--json"] + good.store, in: good.directory.url, environment: good.environment)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try ok.json()["detail"]?.stringValue?.contains("answered with a CSRF token") == true, "\(ok.stdout)")

        let bad = try await Setup(password: "not-the-password")
        defer { bad.remove() }
        let refused = try UAEFProcess.run(
            ["connectors", "test", "s4", "--json"] + bad.store, in: bad.directory.url, environment: bad.environment)
        #expect(refused.status == 1)
        let detail = try refused.json()["detail"]?.stringValue ?? ""
        #expect(detail.contains("HTTP 401") && !detail.contains("not-the-password"), "\(refused.stdout)")
    }

    @Test(
        "kill -9 after SAP created the invoice and before uaef read the answer: resume adopts it, one document in SAP")
    func killedMidCreate() async throws {
        let setup = try await Setup()
        defer { setup.remove() }
        try """
        name: book-invoice
        tasks:
          - id: create
            agent: sap.supplier_invoice.create
            with:
              connector: s4
              invoice:
                CompanyCode: "1010"
                DocumentDate: "2026-11-30"
                PostingDate: "2026-12-01"
                InvoicingParty: "17300001"
                DocumentCurrency: EUR
                InvoiceGrossAmount: "1190.00"
                to_SupplierInvoiceItemGLAcct:
                  - {SupplierInvoiceItem: "0001", GLAccount: "0061008000", SupplierInvoiceItemAmount: "1000.00", DebitCreditCode: S, TaxCode: V1}
        """.write(toFile: setup.directory.path("book.yaml"), atomically: true, encoding: .utf8)
        // The fake creates the invoice, then holds its answer for a minute.
        _ = try await setup.fake("$fake/faults", post: #"[{"kind": "hold", "seconds": 60}]"#)
        let (runner, _, _) = try UAEFProcess.start(
            ["run", "book.yaml"] + setup.store, in: setup.directory.url, environment: setup.environment)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await setup.fake("$fake/invoices").arrayValue?.count != 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await setup.fake("$fake/invoices").arrayValue?.count == 1, "SAP created the invoice")
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()

        let resumed = try UAEFProcess.run(
            ["resume", "--json"] + setup.store, in: setup.directory.url, environment: setup.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try #require(try resumed.json().arrayValue?.first)
        #expect(report["status"] == "succeeded", "\(report)")
        let task = try #require(report["tasks"]?["create"])
        #expect(task["output"]?["adopted"] == true, "\(task)")
        let invoices = try await setup.fake("$fake/invoices").arrayValue ?? []
        #expect(invoices.count == 1, "exactly one supplier invoice in SAP")
        #expect(invoices.first?["SupplierInvoice"] == task["output"]?["supplier_invoice"])
    }

    @Test("the README's ERP example parks and posts an invoice against the fake, as uaef run --json shows")
    func example() async throws {
        let setup = try await Setup()
        defer { setup.remove() }
        let examples = Fixtures.packageRoot.appendingPathComponent("examples/erp")
        let connectors = try String(contentsOf: examples.appendingPathComponent("connectors.yaml"), encoding: .utf8)
        try connectors.replacingOccurrences(of: "127.0.0.1:8091/", with: "127.0.0.1:\(setup.port)/").write(
            toFile: setup.directory.path("example-connectors.yaml"), atomically: true, encoding: .utf8)
        try Data("fake-Pa55".utf8).write(to: setup.directory.url.appendingPathComponent("pw"))
        for command in [
            ["secrets", "set", "s4-password", "--value-file", "pw"],
            ["connectors", "apply", "example-connectors.yaml"],
        ] {
            let result = try UAEFProcess.run(
                command + setup.store, in: setup.directory.url, environment: setup.environment)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let run = try UAEFProcess.run(
            ["run", examples.appendingPathComponent("book-invoice.yaml").path, "--json"] + setup.store,
            in: setup.directory.url, environment: setup.environment)
        let report = try run.json()
        #expect(report["status"] == "succeeded", "\(run.stderr)")
        #expect(report["tasks"]?["park"]?["output"]?["status"] == "A")
        #expect(report["tasks"]?["post"]?["output"]?["status"] == "5")
        let invoice = try #require(try await setup.fake("$fake/invoices").arrayValue?.first)
        #expect(invoice["SupplierInvoiceIDByInvcgParty"] == "INV-2026-0042" && invoice["SupplierInvoiceStatus"] == "5")
        #expect(
            invoice["to_SuplrInvcItemPurOrdRef"]?["results"]?.arrayValue?.first?["QuantityInPurchaseOrderUnit"]
                == "8")
    }

    @Test("kill -9 while an Oracle journal import runs: resume polls the recorded request instead of importing again")
    func killedWhileImporting() async throws {
        let setup = try await Setup(erp: ["--oracle", "--polls-to-finish", "7"]) { port in
            """
            connectors:
              - name: fusion
                type: oracle
                url: http://127.0.0.1:\(port)
                user: INTEGRATION_USER
                password: {$secret: sap-password}
            """
        }
        defer { setup.remove() }
        try """
        name: book-journal
        tasks:
          - id: book
            agent: oracle.journal.import
            with:
              connector: fusion
              poll_interval: 400ms
              journal:
                ledger_id: "300000046975971"
                source: Spreadsheet
                category: Adjustment
                currency: EUR
                accounting_date: "2026-12-01"
                lines:
                  - {account: "01-200-4100-0000", debit: "1190.00"}
                  - {account: "01-000-2210-0000", credit: "1190.00"}
        """.write(toFile: setup.directory.path("journal.yaml"), atomically: true, encoding: .utf8)
        let (runner, _, _) = try UAEFProcess.start(
            ["run", "journal.yaml"] + setup.store, in: setup.directory.url, environment: setup.environment)
        let deadline = ContinuousClock.now + .seconds(30)
        // Killed once it polls: after the request id was recorded, long before the import ends
        // (7 reads at 0.4 s doubling: about 25 s).
        while (try await setup.fake("$fake/imports").arrayValue?.first?["status_reads"]?.numberValue?.intValue ?? 0)
            < 1,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(runner.isRunning, "killed while it waits")
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        let resumed = try UAEFProcess.run(
            ["resume", "--json"] + setup.store, in: setup.directory.url, environment: setup.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try #require(try resumed.json().arrayValue?.first)
        #expect(report["status"] == "succeeded", "\(report)")
        let output = report["tasks"]?["book"]?["output"]
        #expect(output?["resumed"] == true && output?["status"] == "SUCCEEDED", "\(report)")
        let imports = try await setup.fake("$fake/imports").arrayValue ?? []
        #expect(imports.count == 1, "imported once")
        #expect(imports.first?["request_id"] == output?["request_id"])
    }

    @Test(
        "examples/invoice-to-erp.yaml: extract, a finance approval, the invoice in SAP (parked, posted) or in Oracle, the vendor payable settled, and (Oracle) the settlement imported as a GL journal by a worker",
        arguments: ["sap", "oracle"])
    func invoiceToERP(_ erp: String) async throws {
        let setup = try await Setup(erp: ["--\(erp)"]) { port in
            let examples = Fixtures.packageRoot.appendingPathComponent("examples/erp/connectors.yaml")
            let text = (try? String(contentsOf: examples, encoding: .utf8)) ?? ""
            return text.replacingOccurrences(of: "127.0.0.1:8091", with: "127.0.0.1:\(port)")
                .replacingOccurrences(of: "127.0.0.1:8092", with: "127.0.0.1:\(port)")
        }
        defer { setup.remove() }
        for secret in ["s4-password", "fusion-password"] {
            let set = try UAEFProcess.run(
                ["secrets", "set", secret, "--value-file", "password"] + setup.store, in: setup.directory.url,
                environment: setup.environment)
            #expect(set.status == 0, "\(set.stderr)")
        }
        let workflow = Fixtures.packageRoot.appendingPathComponent("examples/invoice-to-erp.yaml").path
        let (runner, stdout, stderr) = try UAEFProcess.start(
            ["run", workflow, "--input", "erp=\(erp)", "--json"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        var approval: String?
        let deadline = ContinuousClock.now + .seconds(60)
        while approval == nil, ContinuousClock.now < deadline, runner.isRunning {
            let list = try UAEFProcess.run(["approvals", "list", "--json"] + setup.store, in: setup.directory.url)
            approval = (try? list.json())?.arrayValue?.first { $0["status"] == "pending" }?["id"]?.stringValue
            try await Task.sleep(for: .milliseconds(50))
        }
        let id = try #require(approval, "\((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")")
        let approved = try UAEFProcess.run(
            ["approvals", "approve", id, "--as", "alice", "--role", "finance"] + setup.store, in: setup.directory.url)
        #expect(approved.status == 0, "\(approved.stderr)")
        runner.waitUntilExit()
        let report = try JSONValue(jsonText: (try? String(contentsOf: stdout, encoding: .utf8)) ?? "")
        #expect(report["status"] == "succeeded", "\((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")")
        let tasks = report["tasks"]
        if erp == "sap" {
            #expect(tasks?["sap_post"]?["output"]?["status"] == "5")
            #expect(tasks?["oracle_invoice"]?["status"] == "skipped")
            let invoice = try await setup.fake("$fake/invoices").arrayValue?.first
            #expect(
                invoice?["SupplierInvoiceIDByInvcgParty"] == "INV-2026-0042"
                    && invoice?["InvoiceGrossAmount"] == "1190.00")
        } else {
            #expect(tasks?["oracle_invoice"]?["output"]?["invoice_number"] == "INV-2026-0042")
        }
        let settlements = try UAEFProcess.run(["settlements", "list", "--json"] + setup.store, in: setup.directory.url)
            .json()
        let settled = settlements.arrayValue ?? settlements["settlements"]?.arrayValue ?? []
        #expect(settled.count == 1 && settled.first?["status"] == "posted", "\(settlements)")
        if erp == "oracle" {
            try await importSettlement(try #require(settled.first?["id"]?.stringValue), setup)
        }
    }

    /// Runs a worker delivering subscriptions until the connector fusion-ledger has imported
    /// `settlement` into the fake General Ledger, then checks the import and the ledger.
    func importSettlement(_ settlement: String, _ setup: Setup) async throws {
        let (worker, _, errors) = try UAEFProcess.start(
            ["worker", "--connectors", "--allow-network", "127.0.0.1"] + setup.store, in: setup.directory.url,
            environment: setup.environment)
        defer {
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
        }
        var delivery: JSONValue?
        let deadline = ContinuousClock.now + .seconds(60)
        while delivery?["status"] != "delivered", ContinuousClock.now < deadline, worker.isRunning {
            try await Task.sleep(for: .milliseconds(100))
            let listed = try UAEFProcess.run(
                ["deliveries", "list", "--connector", "fusion-ledger", "--json"] + setup.store,
                in: setup.directory.url)
            delivery = try? listed.json()["deliveries"]?.arrayValue?.first
        }
        #expect(
            delivery?["status"] == "delivered",
            "\(delivery ?? .null) \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        let imports = try await setup.fake("$fake/imports").arrayValue ?? []
        #expect(imports.count == 1 && imports.first?["rows"] == 2 && imports.first?["problems"] == [], "\(imports)")
        let report = try UAEFProcess.run(
            ["ledger", "report", "--settlement", settlement, "--format", "json"] + setup.store,
            in: setup.directory.url)
        #expect(report.status == 0, "\(report.stderr)")
        let created = try report.json()["events"]?.arrayValue?.compactMap { $0["event"] }.first {
            $0["type"] == "erp.document_created"
        }
        #expect(created?["data"]?["request_id"] == imports.first?["request_id"], "\(created ?? .null)")
    }
}
