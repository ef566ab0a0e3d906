import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Synchronization
import UAEFCore

/// SAP S/4HANA's supplier invoice service (`API_SUPPLIERINVOICE_PROCESS_SRV`, OData V2) on
/// loopback, for tests and for users developing workflows without an SAP system
/// (`uaef dev fake-erp --sap`). What it implements, and where each behaviour comes from:
///
/// - **Basic authentication** of one communication user; a wrong one is answered 401 with
///   `WWW-Authenticate: Basic`, as SAP's ICF does. Or, with ``Options/clientCertificateTLS``,
///   HTTPS whose handshake requires a client certificate signed by the given CA (x509
///   authentication of a communication user).
/// - **CSRF** (SAP Help, SAP Gateway Foundation, "Cross-Site Request Forgery Protection"): a `GET`
///   with `x-csrf-token: Fetch` answers a token and opens a session (`SAP_SESSIONID_<SID>_<client>`
///   and `sap-usercontext=sap-client=<client>` cookies); a modifying request without the
///   session's token, or after the session expired (``Options/sessionLifetime``), is answered
///   `403` with `x-csrf-token: Required` and the text body `CSRF token validation failed`.
/// - **Deep insert** of `A_SupplierInvoice` with `to_SuplrInvcItemPurOrdRef`,
///   `to_SupplierInvoiceItemGLAcct` and `to_SupplierInvoiceTax` (service `$metadata`): unknown
///   properties, missing mandatory ones (the Business Accelerator Hub OpenAPI `-create`
///   schemas), over-long strings, malformed `Edm.Decimal` and `Edm.DateTime` values are 400 OData
///   errors in SAP Gateway's JSON shape (`error.code`, `error.message.value`,
///   `error.innererror.errordetails`); the invoice gets the next number from 5100000000 and the
///   posting date's year as fiscal year, status `5` (posted) unless `SupplierInvoiceStatus` asks
///   to park (`A`, `B`) or hold (`D`); the answer is 201 with the entity under `d` and a
///   `Location` header.
/// - **Reads**: by key, and the collection with `$filter` (`Property eq 'value'` joined by
///   `and`) and `$select`.
/// - **Function imports** `Post`, `Release` and `Cancel` (HTTP `POST`, parameters as OData
///   literals in the query; results under `d.<Name>` with `Success`). Posting a posted invoice
///   fails with SAP's `M8/255` "Document … has been posted"; `Cancel` creates the reversal
///   document and marks the original `IsReversed` (as the API's sandbox data shows).
///
/// Not SAP's: `GET /$fake/invoices` lists every invoice, and `POST /$fake/faults` (a list of
/// `{"kind": "refuse" | "lose_answer" | "hold", "status": N, "seconds": S}`) makes the next
/// creates fail before creating, create and then answer an error, or create and then wait
/// before answering, so tests can lose an answer or kill the caller mid-call.
public struct FakeSAPServer: Sendable {
    /// The service's path on the server.
    public static let servicePath = "/sap/opu/odata/sap/API_SUPPLIERINVOICE_PROCESS_SRV"

    public struct Options: Sendable {
        public var user: String
        public var password: String
        /// The SAP client, in the session cookies' names.
        public var client: String
        /// How long a session (and its CSRF token) lives.
        public var sessionLifetime: Duration
        /// TLS, when callers authenticate with client certificates instead of Basic: the
        /// configuration must require and verify them.
        public var clientCertificateTLS: TLSConfiguration?

        public init(
            user: String = "COMM_USER", password: String = "secret", client: String = "100",
            sessionLifetime: Duration = .seconds(1_800), clientCertificateTLS: TLSConfiguration? = nil
        ) {
            self.user = user
            self.password = password
            self.client = client
            self.sessionLifetime = sessionLifetime
            self.clientCertificateTLS = clientCertificateTLS
        }
    }

    public let options: Options
    let state = FakeSAPState()
    let faults = FakeERPFaults()

    public init(options: Options = Options()) { self.options = options }

    /// Every invoice, in creation order.
    public var invoices: [JSONValue] { state.data.withLock { data in data.order.compactMap { data.invoices[$0] } } }

    /// How many sessions (CSRF token fetches) were opened.
    public var sessionsOpened: Int { state.data.withLock { $0.sessionsOpened } }

    /// Makes the next creates meet `faults`, in order.
    public func inject(_ faults: [FakeERPFault]) { self.faults.add(faults) }

    /// Ends every session, as an expired security session would.
    public func expireSessions() { state.data.withLock { $0.sessions = [:] } }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        router.get("\(Self.servicePath)") { request, _ in try await handle(request) }
        router.get("\(Self.servicePath)/**") { request, _ in try await handle(request) }
        router.post("\(Self.servicePath)/**") { request, _ in try await handle(request) }
        router.get("$fake/invoices") { _, _ in FakeHTTP.json(200, .array(invoices)) }
        faults.route(on: router)
        var logger = Logger(label: "uaef-fake-sap")
        logger.logLevel = .critical
        let application = Application(
            router: router,
            server: try options.clientCertificateTLS.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    // MARK: Requests

    private func handle(_ request: Request) async throws -> Response {
        guard authenticated(request) else {
            var response = FakeHTTP.text(401, "Logon failed")
            response.headers[.wwwAuthenticate] =
                "Basic realm=\"SAP NetWeaver Application Server [UAF/\(options.client)]\""
            return response
        }
        let path = String(request.uri.path.dropFirst(Self.servicePath.count).drop { $0 == "/" })
        let query = FakeHTTP.queryItems(request.uri.query ?? "")
        if request.method == .get {
            if request.headers[.csrfToken]?.lowercased() == "fetch" { return openSession() }
            return read(path: path, query: query)
        }
        guard validToken(request) else {
            var response = FakeHTTP.text(403, "CSRF token validation failed")
            response.headers[.csrfToken] = "Required"
            return response
        }
        switch path {
        case "A_SupplierInvoice":
            let body = String(buffer: try await request.body.collect(upTo: 4 << 20))
            return try await create(body)
        case "Post", "Release", "Cancel":
            return function(path, query: query)
        default:
            return Self.error(404, code: "/IWBEP/CM_MGW_RT/021", "Resource not found for segment '\(path.prefix(80))'")
        }
    }

    /// Basic authentication, or a client certificate the TLS handshake verified.
    private func authenticated(_ request: Request) -> Bool {
        options.clientCertificateTLS != nil || FakeHTTP.isBasic(request, user: options.user, password: options.password)
    }

    private var sessionCookie: String { "SAP_SESSIONID_UAF_\(options.client)" }

    private func openSession() -> Response {
        let session = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let token = Data(UUID().uuidString.utf8).base64EncodedString().prefix(24) + "=="
        let expiry = ContinuousClock.now + options.sessionLifetime
        state.data.withLock { data in
            data.sessions[session] = (String(token), expiry)
            data.sessionsOpened += 1
        }
        var response = FakeHTTP.json(200, ["d": ["EntitySets": ["A_SupplierInvoice"]]])
        response.headers[.csrfToken] = String(token)
        response.headers.append(HTTPField(name: .setCookie, value: "\(sessionCookie)=\(session); path=/; HttpOnly"))
        response.headers.append(
            HTTPField(name: .setCookie, value: "sap-usercontext=sap-client=\(options.client); path=/"))
        return response
    }

    private func validToken(_ request: Request) -> Bool {
        guard let token = request.headers[.csrfToken], let cookies = request.headers[.cookie] else { return false }
        let session = cookies.split(separator: ";").lazy.map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(sessionCookie + "=") }?.dropFirst(sessionCookie.count + 1)
        guard let session else { return false }
        return state.data.withLock { data in
            guard let held = data.sessions[String(session)] else { return false }
            guard held.expiry > .now else {
                data.sessions[String(session)] = nil
                return false
            }
            return held.token == token
        }
    }

    // MARK: Reads

    private func read(path: String, query: [String: String]) -> Response {
        if path.isEmpty || path == "$metadata" {
            return FakeHTTP.json(200, ["d": ["EntitySets": ["A_SupplierInvoice"]]])
        }
        let select = query["$select"].map { Set($0.split(separator: ",").map(String.init)) }
        if path == "A_SupplierInvoice" {
            guard let conditions = Self.conditions(query["$filter"] ?? "") else {
                return Self.error(
                    400, code: "/IWBEP/CM_MGW_RT/000", "Invalid filter expression: '\(query["$filter"] ?? "")'")
            }
            let found = invoices.filter { invoice in conditions.allSatisfy { invoice[$0.0]?.stringValue == $0.1 } }
            return FakeHTTP.json(200, ["d": ["results": .array(found.map { Self.selecting(select, from: $0) })]])
        }
        guard let key = Self.key(path) else {
            return Self.error(404, code: "/IWBEP/CM_MGW_RT/021", "Resource not found for segment '\(path.prefix(80))'")
        }
        guard let invoice = state.data.withLock({ $0.invoices[key] }) else {
            return Self.error(
                404, code: "/IWBEP/CM_MGW_RT/020", "Resource not found for the segment 'A_SupplierInvoice'")
        }
        return FakeHTTP.json(200, ["d": Self.selecting(select, from: invoice)])
    }

    private static func selecting(_ select: Set<String>?, from invoice: JSONValue) -> JSONValue {
        guard let select, let members = invoice.objectValue else { return invoice }
        return .object(members.filter { select.contains($0.key) || $0.key == "__metadata" })
    }

    /// `Property eq 'value'` conditions joined by ` and `; nil for anything else.
    static func conditions(_ filter: String) -> [(String, String)]? {
        guard !filter.isEmpty else { return [] }
        var conditions: [(String, String)] = []
        for part in filter.components(separatedBy: " and ") {
            let pieces = part.split(separator: " ", maxSplits: 2)
            guard pieces.count == 3, pieces[1] == "eq", let value = literal(String(pieces[2])) else { return nil }
            conditions.append((String(pieces[0]), value))
        }
        return conditions
    }

    /// The text of an OData string literal `'…'` (quotes doubled inside).
    static func literal(_ text: String) -> String? {
        guard text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") else { return nil }
        return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
    }

    /// `A_SupplierInvoice(SupplierInvoice='…',FiscalYear='…')` as the invoices' key.
    static func key(_ path: String) -> String? {
        guard path.hasPrefix("A_SupplierInvoice("), path.hasSuffix(")") else { return nil }
        var values: [String: String] = [:]
        for pair in path.dropFirst("A_SupplierInvoice(".count).dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = literal(String(parts[1])) else { return nil }
            values[String(parts[0])] = value
        }
        guard let id = values["SupplierInvoice"], let year = values["FiscalYear"] else { return nil }
        return "\(id)/\(year)"
    }

    // MARK: Writes

    private func create(_ body: String) async throws -> Response {
        guard var entity = (try? JSONValue(jsonText: body))?.objectValue else {
            return Self.error(400, code: "/IWBEP/CM_MGW_RT/004", "Malformed JSON in the request body")
        }
        if let wrapped = entity["d"]?.objectValue, entity.count == 1 { entity = wrapped }
        let problems = FakeSAPSchema.problems(in: entity)
        if let first = problems.first {
            return Self.error(400, code: first.code, first.message, details: problems.map(\.message))
        }
        let fault = faults.next()
        if case .refuse(let status) = fault {
            return Self.error(status, code: "/IWFND/CM_BEC/026", "Service unavailable (injected fault)")
        }
        let (key, stored) = state.data.withLock { data in
            data.next += 1
            let id = String(5_100_000_000 + data.next)
            let year = String(FakeSAPSchema.day(entity["PostingDate"]).prefix(4))
            var stored = entity
            stored["SupplierInvoice"] = .string(id)
            stored["FiscalYear"] = .string(year)
            let requested = entity["SupplierInvoiceStatus"]?.stringValue ?? ""
            stored["SupplierInvoiceStatus"] = .string(["A", "B", "D"].contains(requested) ? requested : "5")
            stored["IsReversed"] = false
            stored["IsReversal"] = false
            stored["ReverseDocument"] = ""
            stored["ReverseDocumentFiscalYear"] = "0000"
            stored["__metadata"] = Self.metadata(id, year)
            let key = "\(id)/\(year)"
            data.invoices[key] = .object(stored)
            data.order.append(key)
            return (key, JSONValue.object(stored))
        }
        switch fault {
        case .loseAnswer(let status):
            return Self.error(status, code: "/IWFND/CM_BEC/026", "Gateway timeout (injected fault)")
        case .hold(let duration):
            try await Task.sleep(for: duration)
        default:
            break
        }
        var response = FakeHTTP.json(201, ["d": stored])
        response.headers[.location] = Self.uri(key)
        return response
    }

    private func function(_ name: String, query: [String: String]) -> Response {
        guard let id = query["SupplierInvoice"].flatMap(Self.literal),
            let year = query["FiscalYear"].flatMap(Self.literal)
        else {
            return Self.error(
                400, code: "/IWBEP/CM_MGW_RT/000", "Parameters SupplierInvoice and FiscalYear are mandatory")
        }
        let key = "\(id)/\(year)"
        return state.data.withLock { data -> Response in
            guard var invoice = data.invoices[key]?.objectValue else {
                return Self.error(404, code: "M8/021", "Document \(id) \(year) does not exist")
            }
            let status = invoice["SupplierInvoiceStatus"]?.stringValue ?? ""
            let reversed = invoice["IsReversed"] == .bool(true)
            switch name {
            case "Post":
                guard status != "5", !reversed else {
                    return Self.error(400, code: "M8/255", "Document \(id) has been posted")
                }
                invoice["SupplierInvoiceStatus"] = "5"
                data.invoices[key] = .object(invoice)
                return Self.result("Post", type: "PostInvoiceExportParameters", ["Success": true])
            case "Release":
                invoice["PaymentBlockingReason"] = ""
                data.invoices[key] = .object(invoice)
                return Self.result("Release", type: "ReleaseInvoiceExportParameters", ["Success": true])
            default:
                guard let reason = query["ReversalReason"].flatMap(Self.literal), !reason.isEmpty,
                    let date = query["PostingDate"], date.hasPrefix("datetime'")
                else {
                    return Self.error(
                        400, code: "/IWBEP/CM_MGW_RT/000", "Parameters PostingDate and ReversalReason are mandatory")
                }
                guard status == "5" else {
                    return Self.error(400, code: "M8/574", "Document \(id) is not posted and cannot be reversed")
                }
                guard !reversed else {
                    return Self.error(400, code: "M8/540", "Document \(id) \(year) has already been reversed")
                }
                data.next += 1
                let reversal = String(5_100_000_000 + data.next)
                var reversing = invoice
                reversing["SupplierInvoice"] = .string(reversal)
                reversing["IsReversal"] = true
                reversing["ReverseDocument"] = .string(id)
                reversing["ReverseDocumentFiscalYear"] = .string(year)
                reversing["SupplierInvoiceIsCreditMemo"] = "X"
                reversing["SupplierInvoiceOrigin"] = "5"
                reversing["__metadata"] = Self.metadata(reversal, year)
                invoice["IsReversed"] = true
                invoice["ReverseDocument"] = .string(reversal)
                invoice["ReverseDocumentFiscalYear"] = .string(year)
                data.invoices[key] = .object(invoice)
                data.invoices["\(reversal)/\(year)"] = .object(reversing)
                data.order.append("\(reversal)/\(year)")
                return Self.result(
                    "Cancel", type: "CancelInvoiceExportParameters",
                    ["ReverseDocument": .string(reversal), "FiscalYear": .string(year), "Success": true])
            }
        }
    }

    // MARK: Responses

    static func uri(_ key: String) -> String {
        let parts = key.split(separator: "/")
        return "\(servicePath)/A_SupplierInvoice(SupplierInvoice='\(parts[0])',FiscalYear='\(parts[1])')"
    }

    static func metadata(_ id: String, _ year: String) -> JSONValue {
        let uri = uri("\(id)/\(year)")
        return [
            "id": .string(uri), "uri": .string(uri), "type": "API_SUPPLIERINVOICE_PROCESS_SRV.A_SupplierInvoiceType",
        ]
    }

    static func result(_ name: String, type: String, _ members: [String: JSONValue]) -> Response {
        var object = members
        object["__metadata"] = ["type": .string("API_SUPPLIERINVOICE_PROCESS_SRV.\(type)")]
        return FakeHTTP.json(200, ["d": [name: .object(object)]])
    }

    /// An error in SAP Gateway's JSON shape.
    static func error(_ status: Int, code: String, _ message: String, details: [String] = []) -> Response {
        let transaction = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let errordetails = (details.isEmpty ? [message] : details).map { text -> JSONValue in
            ["code": .string(code), "message": .string(text), "propertyref": "", "severity": "error", "target": ""]
        }
        return FakeHTTP.json(
            status,
            [
                "error": [
                    "code": .string(code), "message": ["lang": "en", "value": .string(message)],
                    "innererror": [
                        "application": [
                            "component_id": "MM-IV-LIV", "service_namespace": "/SAP/",
                            "service_id": "API_SUPPLIERINVOICE_PROCESS_SRV", "service_version": "0001",
                        ],
                        "transactionid": .string(transaction), "errordetails": .array(errordetails),
                    ],
                ]
            ])
    }
}

/// The fake's invoices and sessions.
final class FakeSAPState: Sendable {
    struct Contents {
        var invoices: [String: JSONValue] = [:]
        var order: [String] = []
        var next = 0
        var sessions: [String: (token: String, expiry: ContinuousClock.Instant)] = [:]
        var sessionsOpened = 0
    }
    let data = Mutex(Contents())
}

extension HTTPField.Name {
    static let csrfToken = HTTPField.Name("x-csrf-token")!
}
