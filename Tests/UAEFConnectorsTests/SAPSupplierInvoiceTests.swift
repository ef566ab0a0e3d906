import Foundation
import Logging
import NIOSSL
import Testing
import UAEFAgents
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFSecrets
import UAEFStore
import UAEFTestSupport

/// The `sap.supplier_invoice.*` task kinds through a real engine on SQLite, against the fake SAP
/// service on loopback (`FakeSAPServer`, written from the service's `$metadata`, SAP Business
/// Accelerator Hub OpenAPI document and SAP Gateway's CSRF and error documentation).
@Suite("SAP supplier invoices against the fake S/4HANA service")
struct SAPSupplierInvoiceTests {
    /// The fake, and an engine with the connector `s4` pointing at it.
    struct Setup: Sendable {
        let server: FakeSAPServer
        let connectors: ConnectorEngine
        var store: any WorkflowStore { connectors.store }

        func run(_ tasks: String) async throws -> (status: RunStatus?, tasks: [String: TaskRecord]) {
            try await connectors.run(tasks)
        }
    }

    static let password = "s3cret-Pa55"

    func withSetup(
        options: FakeSAPServer.Options = .init(password: password), connectorPassword: String = password,
        policy: OutboundPolicy = .unrestricted, secrets: [String: String] = [:],
        credentials: String = "user: COMM_USER\n    password: {$secret: sap-password}", scheme: String = "http",
        _ body: @Sendable (Setup) async throws -> Void
    ) async throws {
        let server = FakeSAPServer(options: options)
        try await server.serving { port in
            try await ConnectorEngine.with(
                secrets: secrets.merging(["sap-password": connectorPassword]) { own, _ in own },
                connectors: """
                    connectors:
                      - name: s4
                        type: sap
                        url: \(scheme)://127.0.0.1:\(port)\(FakeSAPServer.servicePath)
                        \(credentials)
                        timeout: 5s
                    """, policy: policy
            ) { connectors in
                try await body(Setup(server: server, connectors: connectors))
            }
        }
    }

    static func invoice(status: String? = nil, reference: String? = nil, extra: String = "") -> String {
        var fields = [
            "CompanyCode: \"1010\"", "DocumentDate: \"2026-11-30\"", "PostingDate: \"2026-12-01\"",
            "InvoicingParty: \"17300001\"", "DocumentCurrency: EUR", "InvoiceGrossAmount: 1190",
            "TaxIsCalculatedAutomatically: true",
            """
            to_SupplierInvoiceItemGLAcct: [{SupplierInvoiceItem: "0001", GLAccount: "0061008000", \
            SupplierInvoiceItemAmount: "1000.00", DebitCreditCode: S, CostCenter: "0010101101", TaxCode: V1}]
            """,
        ]
        if let status { fields.append("SupplierInvoiceStatus: \(status)") }
        if let reference { fields.append("SupplierInvoiceIDByInvcgParty: \(reference)") }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    @Test(
        "create parks an invoice with its G/L item, post posts it, cancel reverses it; each output names the document")
    func lifecycle() async throws {
        try await withSetup { setup in
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    with: {connector: s4, invoice: \(Self.invoice(status: "A"))}
                  - id: post
                    agent: sap.supplier_invoice.post
                    depends_on: [create]
                    with: {connector: s4, supplier_invoice: "${{ tasks.create.output.supplier_invoice }}", fiscal_year: "${{ tasks.create.output.fiscal_year }}"}
                  - id: cancel
                    agent: sap.supplier_invoice.cancel
                    depends_on: [post]
                    with: {connector: s4, supplier_invoice: "${{ tasks.post.output.supplier_invoice }}", fiscal_year: "2026", reversal_reason: "01", posting_date: "2026-12-02"}
                """)
            #expect(status == .succeeded, "\(tasks.mapValues { $0.error ?? "" })")
            let created = try #require(tasks["create"]?.output)
            #expect(created["status"] == "A" && created["adopted"] == false && created["fiscal_year"] == "2026")
            #expect(created["reference"]?.stringValue?.hasPrefix("UAEF") == true)
            #expect(tasks["post"]?.output?["status"] == "5" && tasks["post"]?.output?["already"] == false)
            let reversal = try #require(tasks["cancel"]?.output?["reverse_document"]?.stringValue)
            let invoices = setup.server.invoices
            #expect(invoices.count == 2)
            let original = try #require(invoices.first)
            #expect(original["SupplierInvoice"] == created["supplier_invoice"])
            #expect(original["IsReversed"] == true && original["ReverseDocument"] == .string(reversal))
            #expect(original["InvoiceGrossAmount"] == "1190.00", "amounts go as text with the currency's decimals")
            #expect(original["DocumentDate"] == "/Date(1795996800000)/")
            let items = original["to_SupplierInvoiceItemGLAcct"]?["results"]?.arrayValue
            #expect(items?.first?["GLAccount"] == "0061008000")
            #expect(setup.server.sessionsOpened == 1, "one CSRF token serves every request of the session")
        }
    }

    @Test("release clears an invoice's payment block and reports the invoice")
    func release() async throws {
        try await withSetup { setup in
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    with: {connector: s4, invoice: \(Self.invoice(extra: "PaymentBlockingReason: R"))}
                  - id: release
                    agent: sap.supplier_invoice.release
                    depends_on: [create]
                    with: {connector: s4, supplier_invoice: "${{ tasks.create.output.supplier_invoice }}", fiscal_year: "2026", shift_discount_days: true}
                """)
            #expect(status == .succeeded, "\(tasks.mapValues { $0.error ?? "" })")
            #expect(tasks["release"]?.output?["supplier_invoice"] == tasks["create"]?.output?["supplier_invoice"])
            #expect(setup.server.invoices.first?["PaymentBlockingReason"] == "")
        }
    }

    @Test("an answer lost after SAP created the invoice: the retry finds it by its reference and adopts it")
    func lostAnswerIsAdopted() async throws {
        try await withSetup { setup in
            setup.server.inject([.loseAnswer(status: 504)])
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    retry: {max_attempts: 3, backoff: 10ms}
                    with: {connector: s4, invoice: \(Self.invoice())}
                """)
            #expect(status == .succeeded, "\(tasks["create"]?.error ?? "")")
            #expect(tasks["create"]?.attempts == 2)
            #expect(tasks["create"]?.output?["adopted"] == true)
            #expect(setup.server.invoices.count == 1, "exactly one document")
            #expect(setup.server.invoices.first?["SupplierInvoice"] == tasks["create"]?.output?["supplier_invoice"])
        }
    }

    @Test(
        "a refused create (503) is retried and creates the invoice once; a second task with the same reference adopts it"
    )
    func refusedThenCreated() async throws {
        try await withSetup { setup in
            setup.server.inject([.refuse(status: 503)])
            let (status, tasks) = try await setup.run(
                """
                  - id: first
                    agent: sap.supplier_invoice.create
                    retry: {max_attempts: 2, backoff: 10ms}
                    with: {connector: s4, invoice: \(Self.invoice(reference: "INV-2026-0042"))}
                  - id: again
                    agent: sap.supplier_invoice.create
                    depends_on: [first]
                    with: {connector: s4, invoice: \(Self.invoice(reference: "INV-2026-0042"))}
                """)
            #expect(status == .succeeded)
            #expect(tasks["first"]?.attempts == 2 && tasks["first"]?.output?["adopted"] == false)
            #expect(tasks["again"]?.output?["adopted"] == true)
            #expect(tasks["again"]?.output?["supplier_invoice"] == tasks["first"]?.output?["supplier_invoice"])
            #expect(setup.server.invoices.count == 1)
        }
    }

    @Test("an expired session's 403 'x-csrf-token: Required' fetches a new token and sends the request once more")
    func expiredTokenIsRefreshed() async throws {
        try await withSetup { setup in
            let first = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    with: {connector: s4, invoice: \(Self.invoice(status: "A"))}
                """)
            #expect(first.status == .succeeded)
            setup.server.expireSessions()
            let id = try #require(first.tasks["create"]?.output?["supplier_invoice"]?.stringValue)
            let second = try await setup.run(
                """
                  - id: post
                    agent: sap.supplier_invoice.post
                    with: {connector: s4, supplier_invoice: "\(id)", fiscal_year: "2026"}
                """)
            #expect(second.status == .succeeded, "\(second.tasks["post"]?.error ?? "")")
            #expect(second.tasks["post"]?.attempts == 1, "refreshed within the attempt, not by a retry")
            #expect(setup.server.sessionsOpened == 2)
        }
    }

    @Test("a bad invoice fails before anything is sent, with every problem naming its property")
    func invalidInvoice() async throws {
        try await withSetup { setup in
            let invoice = """
                {CompanyCode: "10100", DocumentDate: "2026-02-30", InvoicingParty: "17300001", DocumentCurrency: EUR, \
                InvoiceGrossAmount: "1190.005", Companycode: "1010", \
                to_SuplrInvcItemPurOrdRef: [{SupplierInvoiceItem: "000001", PurchaseOrder: 4500000001, \
                PurchaseOrderItem: "00010", SupplierInvoiceItemAmount: "12345678901234.00"}]}
                """
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    retry: {max_attempts: 3, backoff: 10ms}
                    with: {connector: s4, invoice: \(invoice)}
                """)
            #expect(status == .failed)
            let task = try #require(tasks["create"])
            #expect(task.attempts == 1, "not retried")
            let error = task.error ?? ""
            for expected in [
                "invoice.CompanyCode: 5 characters; SAP allows at most 4",
                "invoice.DocumentDate: expected a day as yyyy-MM-dd",
                "invoice.PostingDate: required",
                "invoice.InvoiceGrossAmount: 1190.005 has more decimals than EUR's 2",
                "invoice.Companycode: not a property UAEF creates on A_SupplierInvoice (property names are case-sensitive: CompanyCode)",
                "invoice.to_SuplrInvcItemPurOrdRef[0].PurchaseOrder: expected text of at most 10 characters (quote it",
                "invoice.to_SuplrInvcItemPurOrdRef[0].TaxCode: required",
                "invoice.to_SuplrInvcItemPurOrdRef[0].SupplierInvoiceItemAmount: 12345678901234 does not fit Edm.Decimal(14,3)",
            ] {
                #expect(error.contains(expected), "missing \(expected) in \(error)")
            }
            #expect(setup.server.invoices.isEmpty && setup.server.sessionsOpened == 0, "nothing reached SAP")
        }
    }

    @Test("SAP's refusal (reversing a parked invoice) fails the task with SAP's code and message, not retried")
    func serviceErrorIsReported() async throws {
        try await withSetup { setup in
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    with: {connector: s4, invoice: \(Self.invoice(status: "A"))}
                  - id: cancel
                    agent: sap.supplier_invoice.cancel
                    depends_on: [create]
                    retry: {max_attempts: 3, backoff: 10ms}
                    with: {connector: s4, supplier_invoice: "${{ tasks.create.output.supplier_invoice }}", fiscal_year: "2026", reversal_reason: "01"}
                """)
            #expect(status == .failed)
            #expect(tasks["cancel"]?.attempts == 1)
            let error = tasks["cancel"]?.error ?? ""
            #expect(error.contains("HTTP 400 M8/574: Document") && error.contains("is not posted"), "\(error)")
        }
    }

    @Test("a wrong password is a 401 that fails without retrying, and the password never appears in the error")
    func wrongPassword() async throws {
        try await withSetup(connectorPassword: "wrong-Pa55word") { setup in
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    retry: {max_attempts: 3, backoff: 10ms}
                    with: {connector: s4, invoice: \(Self.invoice())}
                """)
            #expect(status == .failed)
            let error = tasks["create"]?.error ?? ""
            #expect(error.contains("HTTP 401") && tasks["create"]?.attempts == 1, "\(error)")
            #expect(!error.contains("wrong-Pa55word"))
        }
    }

    @Test("a server that may reach only public addresses refuses an SAP connector on loopback")
    func loopbackNeedsPermission() async throws {
        try await withSetup(policy: .publicOnly) { setup in
            let (status, tasks) = try await setup.run(
                """
                  - id: create
                    agent: sap.supplier_invoice.create
                    with: {connector: s4, invoice: \(Self.invoice())}
                """)
            #expect(status == .failed)
            #expect(tasks["create"]?.error?.contains("refused") == true, "\(tasks["create"]?.error ?? "")")
            #expect(setup.server.sessionsOpened == 0)
        }
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a client
    /// certificate signed by another CA, made by `openssl` in `directory`.
    static func makeCertificates(in directory: TemporaryDirectory) async throws {
        let key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        let script = """
            set -e
            cd '\(directory.path(""))'
            openssl req -x509 \(key) -keyout ca.key -out ca.pem -days 2 -subj '/CN=UAEF test CA'
            openssl req -x509 \(key) -keyout other-ca.key -out other-ca.pem -days 2 -subj '/CN=Another CA'
            openssl req \(key) -keyout server.key -out server.csr -subj '/CN=127.0.0.1'
            printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext
            openssl req \(key) -keyout client.key -out client.csr -subj '/CN=COMM_USER'
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
            openssl x509 -req -in client.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out stranger.pem -days 2
            """
        let (status, output) = try await ExternalProcess.run(["sh", "-c", script], withErrors: true)
        #expect(status == 0, "\(output)")
    }

    @Test(
        "with a client certificate (mTLS) instead of a password, the invoice is created over HTTPS; a certificate another CA signed is refused in the handshake"
    )
    func clientCertificate() async throws {
        let directory = try TemporaryDirectory("sap-mtls")
        defer { directory.remove() }
        try await Self.makeCertificates(in: directory)
        func pem(_ name: String) throws -> String { try String(contentsOfFile: directory.path(name), encoding: .utf8) }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(directory.path("server.pem")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: directory.path("server.key"), format: .pem)))
        tls.certificateVerification = .noHostnameVerification
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(directory.path("ca.pem")))
        let credentials = """
            client_certificate: {$secret: cert}
                client_key: {$secret: key}
                ca_certificate: {$secret: ca}
            """
        for (certificate, succeeds) in [("client.pem", true), ("stranger.pem", false)] {
            try await withSetup(
                options: .init(clientCertificateTLS: tls),
                secrets: ["cert": try pem(certificate), "key": try pem("client.key"), "ca": try pem("ca.pem")],
                credentials: credentials, scheme: "https"
            ) { setup in
                let (status, tasks) = try await setup.run(
                    """
                      - id: create
                        agent: sap.supplier_invoice.create
                        with: {connector: s4, invoice: \(Self.invoice())}
                    """)
                if succeeds {
                    #expect(status == .succeeded, "\(tasks["create"]?.error ?? "")")
                    #expect(setup.server.invoices.count == 1)
                } else {
                    #expect(status == .failed)
                    #expect(setup.server.invoices.isEmpty && setup.server.sessionsOpened == 0)
                    let error = tasks["create"]?.error ?? ""
                    #expect(error.contains("UNKNOWN_CA") && !error.contains("BEGIN"), "\(error)")
                }
            }
        }
    }
}
