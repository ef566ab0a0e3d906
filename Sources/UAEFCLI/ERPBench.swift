import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import UAEFConnectors
import UAEFCore
import UAEFEngine
import UAEFFakes

/// `uaef bench erp`: supplier invoices created through the SAP client against the fake SAP
/// service in this process, `concurrency` at a time; each is what `sap.supplier_invoice.create`
/// does in an attempt (the invoice checked and encoded, the lookup by its reference, the deep
/// insert with the session's CSRF token). Beside it, in the same invocation and against a fresh
/// fake, a plain HTTP client loop sending the same two requests per invoice (the same lookup and
/// the same body, token and cookie), with the same concurrency.
enum ERPBench {
    static let goalSeconds = 2.0

    static func run(invoices: Int, concurrency: Int, json: Bool) async throws {
        let uaef = try await withFake { port in try await throughClient(invoices, concurrency: concurrency, port: port)
        }
        let plain = try await withFake { port in try await plainLoop(invoices, concurrency: concurrency, port: port) }
        let reference = try BenchReference.measure()
        if json {
            Console.printJSON([
                "workload": "erp", "invoices": .number(Number(invoices)),
                "concurrency": .number(Number(concurrency)),
                "seconds": BenchReference.number(uaef, digits: 3),
                "invoices_per_second": .number(Number(Int(Double(invoices) / uaef))),
                "plain_client_seconds": BenchReference.number(plain, digits: 3),
                "ratio_to_plain_client": BenchReference.number(uaef / plain, digits: 2),
                "goal_seconds": 2, "reference": reference.json,
            ])
            return
        }
        print(
            """
            erp: \(invoices) SAP supplier invoices (lookup by reference, then the deep insert), \(concurrency) in flight, \
            against the fake S/4HANA service: \(String(format: "%.3f", uaef)) s = \(Int(Double(invoices) / uaef)) invoices/s \
            (goal under \(Int(goalSeconds)) s for 1000)
            the same requests from a plain HTTP client: \(String(format: "%.3f", plain)) s (UAEF's client takes \
            \(String(format: "%.2f", uaef / plain))x as long)
            \(reference.text)
            """)
    }

    static let password = "bench-Pa55"

    /// Runs `body` with a new fake SAP service on loopback; its port.
    static func withFake(_ body: @escaping @Sendable (Int) async throws -> Double) async throws -> Double {
        let server = FakeSAPServer(options: .init(password: password))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        return try await withThrowingTaskGroup(of: Double?.self) { group in
            group.addTask {
                try await server.run(port: 0) { continuation.yield($0) }
                return nil
            }
            guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
            let seconds = try await body(port)
            guard server.invoices.count >= 1 else { throw CLIError.operational("the benchmark created no invoice") }
            group.cancelAll()
            return seconds
        }
    }

    static func root(_ port: Int) -> String { "http://127.0.0.1:\(port)\(FakeSAPServer.servicePath)" }

    /// The invoice numbered `index`: a header and one G/L account item.
    static func invoice(_ index: Int) -> JSONValue {
        [
            "CompanyCode": "1010", "DocumentDate": "2026-11-30", "PostingDate": "2026-12-01",
            "InvoicingParty": "17300001", "DocumentCurrency": "EUR", "InvoiceGrossAmount": "1190.00",
            "SupplierInvoiceIDByInvcgParty": .string("BENCH-\(index)"), "TaxIsCalculatedAutomatically": true,
            "to_SupplierInvoiceItemGLAcct": [
                [
                    "SupplierInvoiceItem": "0001", "GLAccount": "0061008000", "SupplierInvoiceItemAmount": "1000.00",
                    "DebitCreditCode": "S", "CostCenter": "0010101101", "TaxCode": "V1",
                ]
            ],
        ]
    }

    static func throughClient(_ count: Int, concurrency: Int, port: Int) async throws -> Double {
        let client = try await SAPInvoiceClient.connect(
            settings: ["url": .string(root(port)), "user": "COMM_USER", "password": .string(password)],
            policy: .unrestricted)
        let logger = {
            var logger = Logger(label: "uaef-bench")
            logger.logLevel = .critical
            return logger
        }()
        let tickets = WebhookBench.Tickets()
        let start = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while case let index = tickets.take(), index < count {
                            _ = try await client.createOnce(invoice(index), reference: "unused", logger: logger)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            await client.shutdown()
            throw error
        }
        let seconds = LedgerBench.seconds(ContinuousClock.now - start)
        await client.shutdown()
        return seconds
    }

    /// The reference: a token fetched once, then per invoice the lookup `GET` and the create
    /// `POST` (the body UAEF's client sends, prepared before the clock starts).
    static func plainLoop(_ count: Int, concurrency: Int, port: Int) async throws -> Double {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroup: .singletonMultiThreadedEventLoopGroup, configuration: configuration)
        let authorization = "Basic " + Data("COMM_USER:\(password)".utf8).base64EncodedString()
        let bodies = (0..<count).map { index in
            var entity = invoice(index).objectValue ?? [:]
            entity["DocumentDate"] = "/Date(1795996800000)/"
            entity["PostingDate"] = "/Date(1796083200000)/"
            entity["to_SupplierInvoiceItemGLAcct"] = ["results": entity["to_SupplierInvoiceItemGLAcct"] ?? []]
            return JSONValue.object(entity).jsonText
        }
        do {
            var fetch = HTTPClientRequest(url: root(port) + "/")
            fetch.headers.add(name: "Authorization", value: authorization)
            fetch.headers.add(name: "x-csrf-token", value: "Fetch")
            let session = try await client.execute(fetch, timeout: .seconds(30))
            _ = try await session.body.collect(upTo: 1 << 20)
            let token = session.headers.first(name: "x-csrf-token") ?? ""
            let cookie = session.headers["Set-Cookie"].map { $0.prefix { $0 != ";" } }.joined(separator: "; ")
            let tickets = WebhookBench.Tickets()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while case let index = tickets.take(), index < count {
                            var lookup = HTTPClientRequest(
                                url: root(port)
                                    + "/A_SupplierInvoice?$filter=SupplierInvoiceIDByInvcgParty%20eq%20'BENCH-\(index)'%20and%20InvoicingParty%20eq%20'17300001'&$format=json"
                            )
                            lookup.headers.add(name: "Authorization", value: authorization)
                            let found = try await client.execute(lookup, timeout: .seconds(30))
                            _ = try await found.body.collect(upTo: 1 << 20)
                            var create = HTTPClientRequest(url: root(port) + "/A_SupplierInvoice")
                            create.method = .POST
                            create.headers.add(name: "Authorization", value: authorization)
                            create.headers.add(name: "x-csrf-token", value: token)
                            create.headers.add(name: "Cookie", value: cookie)
                            create.headers.add(name: "Content-Type", value: "application/json")
                            create.body = .bytes(ByteBuffer(string: bodies[index]))
                            let created = try await client.execute(create, timeout: .seconds(30))
                            _ = try await created.body.collect(upTo: 1 << 20)
                            guard created.status == .created else {
                                throw CLIError.operational("the plain client's create answered \(created.status)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = LedgerBench.seconds(ContinuousClock.now - start)
            try await client.shutdown()
            return seconds
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
