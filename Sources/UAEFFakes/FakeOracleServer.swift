import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import UAEFCore
import UAEFZip

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
/// - **`POST …/erpintegrations`** with `OperationName: importBulkData` (Oracle's "Create an
///   inbound or outbound set of data" and the FBDI notes): the Journal Import launcher job, the
///   General Ledger document account, a stored zip holding `GlInterface.csv`, whose rows are
///   checked (149 columns, `NEW`, days as `YYYY/MM/DD`, the `ParameterList`'s source and group,
///   actual flag `A`, one of debit and credit); an unknown job answers `ReqstId: "-1"` as pods
///   do. The request runs `WAIT` → `RUNNING` → `SUCCEEDED` (or `ERROR` when a row was wrong)
///   over ``pollsToFinish`` status reads of `GET …/erpintegrations?finder=ESSJobStatusRF;requestId=N`.
/// - **`POST …/erpintegrations`** with `OperationName: downloadESSJobExecutionDetails`, `ReqstId`
///   and `FileType` (PascalCase; `requestId` is refused as pods refuse it): the item echoed with
///   `DocumentContent`, a base64 zip deflated and streamed as Oracle's are (its example starts
///   `UEsDBBQACAgIA`), holding the request's log `<id>.log`: the lines read and, for a failed
///   import, the problems found. Only once the request ended; an unknown id is a 404.
///
/// Not Oracle's: `GET /$fake/invoices` lists every invoice, `GET /$fake/imports` every import
/// request (with the problems found in its file), and `POST /$fake/faults` makes the next
/// creates fail before creating, lose their answer, or hold it (as the SAP fake).
public struct FakeOracleServer: Sendable {
    public static let resourcePaths = ["/fscmRestApi/resources/11.13.18.05", "/fscmRestApi/resources/latest"]

    public let user: String
    public let password: String
    /// How many status reads an import request takes to end.
    public let pollsToFinish: Int
    let state = FakeOracleState()
    let faults = FakeERPFaults()

    public init(user: String = "INTEGRATION_USER", password: String = "secret", pollsToFinish: Int = 2) {
        self.user = user
        self.password = password
        self.pollsToFinish = pollsToFinish
    }

    /// Every import request, in submission order.
    public var imports: [JSONValue] { state.imports.withLock { $0.map(\.json) } }

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
        for root in Self.resourcePaths {
            router.post("\(root)/erpintegrations") { request, _ in try await integrate(request) }
            router.get("\(root)/erpintegrations") { request, _ in jobStatus(request, root: root) }
        }
        router.get("$fake/invoices") { _, _ in FakeHTTP.json(200, .array(allInvoices)) }
        router.get("$fake/imports") { _, _ in FakeHTTP.json(200, .array(imports)) }
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

    static let journalImportJob = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"

    private func integrate(_ request: Request) async throws -> Response {
        guard authenticated(request) else { return FakeHTTP.text(401, "Unauthorized") }
        let text = String(buffer: try await request.body.collect(upTo: 64 << 20))
        guard let body = try? JSONValue(jsonText: text) else {
            return error(request, 400, code: "", "The request body is not JSON.")
        }
        if body["OperationName"] == "downloadESSJobExecutionDetails" { return executionDetails(request, body) }
        guard body["OperationName"] == "importBulkData" else {
            return error(
                request, 400, code: "",
                "OperationName must be importBulkData or downloadESSJobExecutionDetails (this fake's operations)")
        }
        guard body["JobName"]?.stringValue == Self.journalImportJob else {
            return FakeHTTP.json(201, ["OperationName": "importBulkData", "ReqstId": "-1"])
        }
        guard
            ["fin$/generalLedger$/import$", "fin$/journal$/import"].contains(body["DocumentAccount"]?.stringValue ?? "")
        else { return error(request, 400, code: "", "The document account is not valid for General Ledger imports.") }
        let parameters = (body["ParameterList"]?.stringValue ?? "").split(
            separator: ",", omittingEmptySubsequences: false
        )
        .map(String.init)
        guard parameters.count == 7 else {
            return error(request, 400, code: "", "The ParameterList of Journal Import has 7 entries.")
        }
        guard let content = body["DocumentContent"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            return error(request, 400, code: "", "DocumentContent must be a base64 zip file.")
        }
        let fault = faults.next()
        if case .refuse(let status) = fault {
            return error(request, status, code: "", "Service unavailable (injected fault)")
        }
        if fault == .rejectJob { return FakeHTTP.json(201, ["OperationName": "importBulkData", "ReqstId": "-1"]) }
        var problems: [String] = fault == .jobError ? ["the import failed (injected fault)"] : []
        var rows: [[String]] = []
        do {
            let entries = try ZipArchive.entries(of: Array(content))
            if let file = entries.first(where: { $0.name == "GlInterface.csv" }) {
                rows = Self.csvRows(String(decoding: file.data, as: UTF8.self))
            } else {
                problems.append("the zip holds no GlInterface.csv")
            }
        } catch {
            problems.append("\(error)")
        }
        for (number, row) in rows.enumerated() {
            problems += Self.problems(in: row, line: number + 1, source: parameters[1], group: parameters[3])
        }
        if rows.isEmpty, problems.isEmpty { problems.append("GlInterface.csv has no rows") }
        let id = state.imports.withLock { imports -> String in
            let id = String(14_557 + imports.count)
            imports.append(
                FakeOracleState.Import(
                    requestID: id, group: parameters[3], rows: rows.count, problems: problems, reads: 0))
            return id
        }
        if case .loseAnswer(let status) = fault {
            return error(request, status, code: "", "Gateway timeout (injected fault)")
        }
        return FakeHTTP.json(
            201,
            [
                "OperationName": "importBulkData", "ReqstId": .string(id), "FileName": body["FileName"] ?? .null,
                "JobName": .string(Self.journalImportJob), "ParameterList": body["ParameterList"] ?? .null,
            ])
    }

    /// `downloadESSJobExecutionDetails`: the ended request's log in a deflated zip.
    private func executionDetails(_ request: Request, _ body: JSONValue) -> Response {
        if let wrong = body.objectValue?.keys.first(where: { ["requestId", "fileType"].contains($0) }) {
            return error(request, 400, code: "", "Invalid attribute \"\(wrong)\" in the payload")
        }
        let id = body["ReqstId"]?.stringValue ?? ""
        let found = state.imports.withLock { imports in imports.first { $0.requestID == id } }
        guard let found else { return error(request, 404, code: "", "The ESS request \(id) was not found.") }
        let status = found.status(pollsToFinish: pollsToFinish)
        guard status == "SUCCEEDED" || status == "ERROR" else {
            return error(request, 400, code: "", "The ESS request \(id) has not ended (\(status)).")
        }
        var log = "Journal Import Execution Report\nRequest ID: \(id)\nGroup ID: \(found.group)\n"
        log += "Lines read from GL_INTERFACE: \(found.rows)\n"
        log += found.problems.map { "Error: \($0)\n" }.joined()
        log += "Status: \(status)\n"
        let zip = ZipArchive.archive(
            [ZipArchive.Entry(name: "\(id).log", data: Array(log.utf8))], compression: .deflatedStreamed)
        return FakeHTTP.json(
            201,
            [
                "OperationName": "downloadESSJobExecutionDetails", "ReqstId": .string(id),
                "DocumentContent": .string(Data(zip).base64EncodedString()), "FileType": body["FileType"] ?? "ALL",
                "DocumentId": .null, "FileName": .null, "ContentType": .null, "RequestStatus": .null,
            ])
    }

    /// A `GlInterface.csv` row's problems, as Journal Import would reject the group for them.
    static func problems(in row: [String], line: Int, source: String, group: String) -> [String] {
        guard row.count == 149 || (row.count == 150 && row[149] == "END") else {
            return ["line \(line): \(row.count) columns; GL_INTERFACE has 149"]
        }
        var problems: [String] = []
        func check(_ ok: Bool, _ message: String) { if !ok { problems.append("line \(line): \(message)") } }
        check(row[0] == "NEW", "STATUS must be NEW")
        check(isSlashDay(row[2]), "ACCOUNTING_DATE must be YYYY/MM/DD")
        check(isSlashDay(row[6]), "DATE_CREATED must be YYYY/MM/DD")
        check(row[3] == source, "USER_JE_SOURCE_NAME \(row[3]) is not the ParameterList's source \(source)")
        check(!row[4].isEmpty, "USER_JE_CATEGORY_NAME is required")
        check(!row[5].isEmpty, "CURRENCY_CODE is required")
        check(row[7] == "A", "ACTUAL_FLAG must be A")
        check(!row[8].isEmpty, "SEGMENT1 is required")
        check(row[66] == group, "GROUP_ID \(row[66]) is not the ParameterList's group \(group)")
        check(!row[1].isEmpty || !row[91].isEmpty, "LEDGER_ID or LEDGER_NAME is required")
        let debit = Number(parsing: row[38])
        let credit = Number(parsing: row[39])
        check((debit == nil) != (credit == nil), "give ENTERED_DR or ENTERED_CR, one of them, as a number")
        return problems
    }

    static func isSlashDay(_ text: String) -> Bool {
        let parts = text.split(separator: "/")
        return text.count == 10 && parts.count == 3 && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    /// The rows of a CSV text: fields split on commas, `"…"` quoting with `""` for a quote.
    static func csvRows(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    var lookahead = iterator
                    if lookahead.next() == "\"" {
                        field.append("\"")
                        iterator = lookahead
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\n" || character == "\r\n" {
                row.append(field)
                rows.append(row)
                (row, field) = ([], "")
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }

    private func jobStatus(_ request: Request, root: String) -> Response {
        guard authenticated(request) else { return FakeHTTP.text(401, "Unauthorized") }
        let finder = FakeHTTP.queryItems(request.uri.query ?? "")["finder"] ?? ""
        guard finder.hasPrefix("ESSJobStatusRF;requestId=") else {
            return error(request, 400, code: "", "The finder \(finder) is not supported by this fake.")
        }
        let id = String(finder.dropFirst("ESSJobStatusRF;requestId=".count))
        let status = state.imports.withLock { imports -> String in
            guard let index = imports.firstIndex(where: { $0.requestID == id }) else { return "" }
            imports[index].reads += 1
            return imports[index].status(pollsToFinish: pollsToFinish)
        }
        return FakeHTTP.json(
            200,
            [
                "items": [
                    ["OperationName": "getESSJobStatus", "ReqstId": .string(id), "RequestStatus": .string(status)]
                ],
                "count": 1, "hasMore": false, "limit": 25, "offset": 0,
                "links": [
                    [
                        "rel": "self", "href": .string("\(root)/erpintegrations"), "name": "erpintegrations",
                        "kind": "collection",
                    ]
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

/// The fake's invoices and import requests, in creation order.
final class FakeOracleState: Sendable {
    let invoices = Mutex<[JSONValue]>([])
    let imports = Mutex<[Import]>([])

    /// An import request: what its file held and how often its status was read.
    struct Import {
        var requestID: String
        var group: String
        var rows: Int
        var problems: [String]
        var reads: Int

        /// `WAIT` on the first read, `RUNNING` until `pollsToFinish`, then how it ended.
        func status(pollsToFinish: Int) -> String {
            if reads <= 1, pollsToFinish > 1 { return "WAIT" }
            if reads < pollsToFinish { return "RUNNING" }
            return problems.isEmpty ? "SUCCEEDED" : "ERROR"
        }

        var json: JSONValue {
            [
                "request_id": .string(requestID), "group_id": .string(group), "rows": .number(Number(rows)),
                "problems": .array(problems.map(JSONValue.string)), "status_reads": .number(Number(reads)),
            ]
        }
    }
}
