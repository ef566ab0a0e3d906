import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import UAEFCore

/// Oracle Fusion Cloud ERP's Payables invoices REST resource on loopback, for tests and for
/// users developing workflows without a pod (`uaef dev fake-erp --oracle`). What it implements,
/// and where each behaviour comes from (docs/erp-references/oracle.md has the sources):
///
/// - **Basic authentication** of one integration user; otherwise 401 with a plain-text body.
/// - **`POST /fscmRestApi/resources/11.13.18.05/invoices`** (also under `latest`) with
///   `Content-Type: application/vnd.oracle.adf.resourceitem+json` or `application/json` (415
///   otherwise): the mandatory attributes (InvoiceCurrency, InvoiceAmount, InvoiceDate,
///   BusinessUnit, Supplier, SupplierSite; a line's LineNumber and LineAmount), days as
///   `YYYY-MM-DD`, and an invoice number unique per supplier: a second one is refused with
///   Oracle's "This invoice number already exists. You must provide a unique invoice number.
///   (AP-810776)". The answer is 201 with the invoice echoed (amounts as numbers),
///   `InvoiceId` from 300100187048035, `ValidationStatus` "Not Validated", links, and a
///   `Location` header (Oracle's "Create an Invoice with a PO-Matched Line and Freight Line"
///   example and Status Codes page).
/// - **`GET …/invoices`** with `q` in the framework's version 1 query-by-example form
///   (`Attribute='value';Attribute2='value'`), `fields`, `limit`, `offset`, answering the
///   collection envelope `{items, count, hasMore, limit, offset, links}`; `GET …/invoices/{id}`.
/// - **Errors** as plain text, or as `application/vnd.oracle.adf.error+json` (`title`, `status`,
///   `o:errorDetails` with `detail` and `o:errorCode`) when the request's `Accept` asks for it.
///
/// Not Oracle's: `GET /$fake/invoices` lists every invoice, and `POST /$fake/faults` makes the
/// next creates fail before creating, lose their answer, or hold it (as the SAP fake).
public struct FakeOracleServer: Sendable {
    public static let resourcePaths = ["/fscmRestApi/resources/11.13.18.05", "/fscmRestApi/resources/latest"]

    public let user: String
    public let password: String
    let state = FakeOracleState()
    let faults = FakeERPFaults()

    public init(user: String = "INTEGRATION_USER", password: String = "secret") {
        self.user = user
        self.password = password
    }

    /// Every invoice, in creation order.
    public var allInvoices: [JSONValue] { state.invoices.withLock { $0 } }

    /// Makes the next creates meet `faults`, in order.
    public func inject(_ faults: [FakeERPFault]) { self.faults.add(faults) }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        for root in Self.resourcePaths {
            router.post("\(root)/invoices") { request, _ in try await create(request, root: root) }
            router.get("\(root)/invoices") { request, _ in list(request, root: root) }
            router.get("\(root)/invoices/:id") { request, context in
                guard authenticated(request) else { return FakeHTTP.text(401, "Unauthorized") }
                let id = context.parameters.get("id") ?? ""
                guard
                    let invoice = state.invoices.withLock({
                        $0.first { "\($0["InvoiceId"]?.numberValue ?? Number(0))" == id }
                    })
                else { return error(request, 404, code: "", "The requested resource was not found.") }
                return FakeHTTP.json(200, invoice)
            }
        }
        router.get("$fake/invoices") { _, _ in FakeHTTP.json(200, .array(allInvoices)) }
        faults.route(on: router)
        var logger = Logger(label: "uaef-fake-oracle")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    private func authenticated(_ request: Request) -> Bool { FakeHTTP.isBasic(request, user: user, password: password) }

    static let required = [
        "InvoiceCurrency", "InvoiceAmount", "InvoiceDate", "BusinessUnit", "Supplier", "SupplierSite",
    ]

    private func create(_ request: Request, root: String) async throws -> Response {
        guard authenticated(request) else { return FakeHTTP.text(401, "Unauthorized") }
        let type = request.headers[.contentType]?.split(separator: ";").first.map(String.init) ?? ""
        guard ["application/vnd.oracle.adf.resourceitem+json", "application/json"].contains(type) else {
            return error(request, 415, code: "", "Unsupported media type \(type)")
        }
        let text = String(buffer: try await request.body.collect(upTo: 4 << 20))
        guard var invoice = (try? JSONValue(jsonText: text))?.objectValue else {
            return error(request, 400, code: "27521", "Unable to parse the provided payload")
        }
        var problems: [String] = []
        for name in Self.required where invoice[name] == nil || invoice[name] == "" {
            problems.append("The value of the attribute \(name) is required.")
        }
        for date in ["InvoiceDate", "AccountingDate"] where invoice[date] != nil {
            if !(invoice[date]?.stringValue.map(Self.isDay) ?? false) {
                problems.append("The value of the attribute \(date) isn't a valid date: use YYYY-MM-DD.")
            }
        }
        var lines: [JSONValue] = []
        for line in invoice["invoiceLines"]?.arrayValue ?? [] {
            guard var members = line.objectValue, members["LineNumber"] != nil, members["LineAmount"] != nil else {
                problems.append("The values of the attributes LineNumber and LineAmount are required for a line.")
                continue
            }
            members["LineAmount"] = Self.number(members["LineAmount"])
            members["LineType"] = members["LineType"] ?? "Item"
            lines.append(.object(members))
        }
        if let first = problems.first { return error(request, 400, code: "", first) }
        let number = invoice["InvoiceNumber"]?.stringValue ?? ""
        let supplier = invoice["Supplier"]?.stringValue ?? ""
        let fault = faults.next()
        if case .refuse(let status) = fault {
            return error(request, status, code: "", "Service unavailable (injected fault)")
        }
        let created: JSONValue? = state.invoices.withLock { invoices in
            guard
                !invoices.contains(where: {
                    $0["InvoiceNumber"]?.stringValue == number && $0["Supplier"]?.stringValue == supplier
                })
            else { return nil }
            let id = 300_100_187_048_034 + invoices.count + 1
            invoice["InvoiceId"] = .number(Number(id))
            invoice["InvoiceAmount"] = Self.number(invoice["InvoiceAmount"])
            invoice["ValidationStatus"] = "Not Validated"
            invoice["ApprovalStatus"] = "Required"
            invoice["CanceledFlag"] = false
            invoice["SupplierNumber"] = invoice["SupplierNumber"] ?? "1013"
            invoice["invoiceLines"] = .array(lines)
            invoice["links"] = [
                ["rel": "self", "href": .string("\(root)/invoices/\(id)"), "name": "invoices", "kind": "item"]
            ]
            invoices.append(.object(invoice))
            return .object(invoice)
        }
        guard let created else {
            return error(
                request, 400, code: "AP-810776",
                "This invoice number already exists. You must provide a unique invoice number. (AP-810776)")
        }
        return try await answer(created, request: request, root: root, fault: fault)
    }

    /// The created invoice's answer, unless `fault` loses or holds it.
    private func answer(_ created: JSONValue, request: Request, root: String, fault: FakeERPFault?) async throws
        -> Response
    {
        switch fault {
        case .loseAnswer(let status):
            return error(request, status, code: "", "Gateway timeout (injected fault)")
        case .hold(let duration):
            try await Task.sleep(for: duration)
        default:
            break
        }
        var response = FakeHTTP.json(201, created, contentType: "application/vnd.oracle.adf.resourceitem+json")
        response.headers[.location] = "\(root)/invoices/\(created["InvoiceId"]?.numberValue ?? Number(0))"
        return response
    }

    private func list(_ request: Request, root: String) -> Response {
        guard authenticated(request) else { return FakeHTTP.text(401, "Unauthorized") }
        let query = FakeHTTP.queryItems(request.uri.query ?? "")
        guard let conditions = Self.conditions(query["q"] ?? "") else {
            return error(request, 400, code: "", "The query \(query["q"] ?? "") is not valid.")
        }
        let fields = query["fields"].map { Set($0.split(separator: ",").map(String.init)) }
        let limit = query["limit"].flatMap(Int.init) ?? 25
        let offset = query["offset"].flatMap(Int.init) ?? 0
        let matching = allInvoices.filter { invoice in
            conditions.allSatisfy { name, value in
                (invoice[name]?.stringValue ?? invoice[name]?.numberValue.map { "\($0)" }) == value
            }
        }
        let page = matching.dropFirst(offset).prefix(limit).map { invoice -> JSONValue in
            guard let fields, let members = invoice.objectValue else { return invoice }
            return .object(members.filter { fields.contains($0.key) })
        }
        return FakeHTTP.json(
            200,
            [
                "items": .array(Array(page)), "count": .number(Number(page.count)),
                "hasMore": .bool(offset + page.count < matching.count), "limit": .number(Number(limit)),
                "offset": .number(Number(offset)),
                "links": [
                    ["rel": "self", "href": .string("\(root)/invoices"), "name": "invoices", "kind": "collection"]
                ],
            ])
    }

    /// `Attribute='value'` (or unquoted) conditions joined by `;`; nil for anything else.
    static func conditions(_ q: String) -> [(String, String)]? {
        guard !q.isEmpty else { return [] }
        var conditions: [(String, String)] = []
        for part in q.split(separator: ";") {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            var value = String(part[part.index(after: equals)...])
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            }
            conditions.append((String(part[..<equals]).trimmingCharacters(in: .whitespaces), value))
        }
        return conditions
    }

    /// An amount as Oracle answers it: a JSON number.
    static func number(_ value: JSONValue?) -> JSONValue {
        if let text = value?.stringValue, let number = Number(parsing: text) { return .number(number) }
        return value ?? .null
    }

    static func isDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        return text.count == 10 && parts.count == 3 && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    /// An error as Fusion answers it: JSON when the request's `Accept` asks for Oracle's error
    /// type, plain text otherwise.
    func error(_ request: Request, _ status: Int, code: String, _ message: String) -> Response {
        guard request.headers[.accept]?.contains("application/vnd.oracle.adf.error+json") == true else {
            return FakeHTTP.text(status, message)
        }
        var detail: [String: JSONValue] = ["detail": .string(message)]
        if !code.isEmpty { detail["o:errorCode"] = .string(code) }
        return FakeHTTP.json(
            status,
            [
                "title": .string(HTTPResponse.Status(code: status).reasonPhrase), "status": .string("\(status)"),
                "o:errorDetails": [.object(detail)],
            ], contentType: "application/vnd.oracle.adf.error+json")
    }
}

/// The fake's invoices, in creation order.
final class FakeOracleState: Sendable {
    let invoices = Mutex<[JSONValue]>([])
}
