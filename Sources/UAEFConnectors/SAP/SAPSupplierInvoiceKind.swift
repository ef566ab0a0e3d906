import Foundation
import Logging
import UAEFAgents
import UAEFCore
import UAEFEngine
import UAEFSecrets
import UAEFStore

/// The task kinds `sap.supplier_invoice.create`, `.post`, `.release` and `.cancel`, on an `sap`
/// connector's `API_SUPPLIERINVOICE_PROCESS_SRV`. Each is safe to retry:
///
/// - `create` (`invoice`: the `A_SupplierInvoice` properties with items) first looks the invoice
///   up by its supplier reference (`SupplierInvoiceIDByInvcgParty`; derived from the run and the
///   task when the invoice gives none) and the invoicing party, and adopts the one found
///   (`adopted: true`) instead of creating a second: an attempt whose answer was lost (a
///   timeout, a crash) is followed by one that finds the document.
/// - `post` and `cancel` read the invoice first and report one already posted or reversed
///   instead of failing on SAP's refusal to do it twice.
///
/// The output names the document: `supplier_invoice`, `fiscal_year`, `status`, `reference`,
/// `invoicing_party` (and `reverse_document` after a cancel).
public struct SAPSupplierInvoiceKind: AgentKind {
    /// What the kind does to an invoice.
    public enum Operation: String, Sendable, CaseIterable {
        case create, post, release, cancel
    }

    let operation: Operation
    let services: ConnectorClients<SAPService>

    /// The kind for `operation`; `services` (shared by the four kinds) keeps a session per connector.
    init(_ operation: Operation, services: ConnectorClients<SAPService>) {
        self.operation = operation
        self.services = services
    }

    /// The `sap` connectors of `store`, secrets opened with `secrets`, services reached under `policy`.
    static func services(store: any WorkflowStore, secrets: SecretBox?, policy: OutboundPolicy)
        -> ConnectorClients<SAPService>
    {
        ConnectorClients(
            .sap, store: store, secrets: secrets, make: { try await SAPService.make(settings: $0, policy: policy) },
            shutdown: { await $0.shutdown() })
    }

    public var name: String { "sap.supplier_invoice.\(operation.rawValue)" }

    public var parameters: WorkflowCatalog.ParameterSpec {
        switch operation {
        case .create: .init(required: ["connector", "invoice"], optional: [])
        case .post: .init(required: ["connector", "supplier_invoice", "fiscal_year"], optional: [])
        case .release:
            .init(required: ["connector", "supplier_invoice", "fiscal_year"], optional: ["shift_discount_days"])
        case .cancel:
            .init(
                required: ["connector", "supplier_invoice", "fiscal_year", "reversal_reason"],
                optional: ["posting_date"])
        }
    }

    public func execute(_ request: AttemptRequest, logger: Logger) async throws -> JSONValue {
        _ = try ConnectorParameter.name(request.parameters, caller: name)
        let work = try Work(operation, request, caller: name)
        return try await services.using(request, caller: name) { service in
            .object(try await work.perform(on: SAPSupplierInvoices(service: service), logger: logger))
        }
    }

    /// A task's `with`, checked before anything is sent.
    enum Work {
        case create(SAPSupplierInvoice)
        case post(id: String, year: String)
        case release(id: String, year: String, shift: Bool)
        case cancel(id: String, year: String, postingDate: String, reason: String)

        init(_ operation: Operation, _ request: AttemptRequest, caller: String) throws {
            let parameters = request.parameters
            func text(_ key: String, _ rule: String, _ valid: (String) -> Bool) throws -> String {
                guard let value = parameters[key]?.stringValue, valid(value) else {
                    throw AgentFailure("\(caller): `\(key)` must be \(rule)", retryable: false)
                }
                return value
            }
            func isAlphanumeric(_ text: String) -> Bool {
                text.unicodeScalars.allSatisfy { $0.isASCII && CharacterSet.alphanumerics.contains($0) }
            }
            func document() throws -> (String, String) {
                // Letters and digits only: the number goes into the request's path.
                let id = try text("supplier_invoice", "the invoice's number, 1 to 10 letters and digits") {
                    (1...10).contains($0.utf8.count) && isAlphanumeric($0)
                }
                let year = try text("fiscal_year", "a year of 4 digits, as text") {
                    $0.utf8.count == 4 && $0.utf8.allSatisfy { (48...57).contains($0) }
                }
                return (id, year)
            }
            switch operation {
            case .create:
                do {
                    self = .create(
                        try SAPSupplierInvoice(parameters["invoice"] ?? .null, reference: Self.reference(of: request)))
                } catch {
                    throw AgentFailure("\(caller): \(error)", retryable: false)
                }
            case .post:
                let (id, year) = try document()
                self = .post(id: id, year: year)
            case .release:
                let (id, year) = try document()
                let shift = parameters["shift_discount_days"] ?? false
                guard shift == true || shift == false else {
                    throw AgentFailure("\(caller): `shift_discount_days` must be true or false", retryable: false)
                }
                self = .release(id: id, year: year, shift: shift == true)
            case .cancel:
                let (id, year) = try document()
                let reason = try text(
                    "reversal_reason", "SAP's reversal reason code, 1 or 2 letters or digits such as \"01\""
                ) {
                    (1...2).contains($0.utf8.count) && isAlphanumeric($0)
                }
                var day = String(Timestamp.format(Date()).prefix(10))
                if parameters["posting_date"] != nil {
                    day = try text("posting_date", "a day as yyyy-MM-dd") { ODataV2.date($0) != nil }
                }
                self = .cancel(id: id, year: year, postingDate: day, reason: reason)
            }
        }

        /// `UAEF` and 12 hex digits of the task's ``MessageIdentity``: the same for every
        /// attempt, 16 characters as `SupplierInvoiceIDByInvcgParty` allows.
        static func reference(of request: AttemptRequest) -> String {
            "UAEF" + MessageIdentity.id(of: request).prefix(12).uppercased()
        }

        func perform(on invoices: SAPSupplierInvoices, logger: Logger) async throws -> [String: JSONValue] {
            switch self {
            case .create(let invoice):
                let found = try await invoices.find(
                    reference: invoice.reference, party: invoice.invoicingParty, logger: logger
                ).filter { !$0.isReversed && !$0.isReversal }
                guard found.count <= 1 else {
                    throw AgentFailure(
                        "sap: \(found.count) invoices have the reference \(invoice.reference) from \(invoice.invoicingParty) (\(found.map { "\($0.supplierInvoice)/\($0.fiscalYear)" }.joined(separator: ", "))): which one this task created cannot be told",
                        retryable: false)
                }
                if let existing = found.first { return existing.output.merging(["adopted": true]) { $1 } }
                let created = try await invoices.create(invoice, logger: logger)
                return created.output.merging(["adopted": false]) { $1 }
            case .post(let id, let year):
                let before = try await invoices.read(id, year: year, logger: logger)
                guard !before.isReversed else {
                    throw AgentFailure("sap: invoice \(id)/\(year) is reversed and cannot be posted", retryable: false)
                }
                if before.isPosted { return before.output.merging(["already": true]) { $1 } }
                try await invoices.post(id, year: year, logger: logger)
                return try await invoices.read(id, year: year, logger: logger).output.merging(["already": false]) { $1 }
            case .release(let id, let year, let shift):
                try await invoices.release(id, year: year, shiftDiscountDays: shift, logger: logger)
                return try await invoices.read(id, year: year, logger: logger).output
            case .cancel(let id, let year, let postingDate, let reason):
                let before = try await invoices.read(id, year: year, logger: logger)
                if before.isReversed, before.reverseDocument != nil {
                    return before.output.merging(["already": true]) { $1 }
                }
                let reversal = try await invoices.cancel(
                    id, year: year, postingDate: postingDate, reason: reason, logger: logger)
                var output = before.output
                output["reverse_document"] = .string(reversal.document)
                output["reverse_document_fiscal_year"] = .string(reversal.fiscalYear)
                output["already"] = false
                return output
            }
        }
    }
}

/// One SAP supplier invoice service as the `sap.supplier_invoice.*` kinds use it, for callers
/// outside a workflow (`uaef bench erp`).
public struct SAPInvoiceClient: Sendable {
    let service: SAPService

    /// A session with the service a `sap` connector's resolved `settings` describe, under `policy`.
    public static func connect(settings: [String: JSONValue], policy: OutboundPolicy) async throws -> SAPInvoiceClient {
        SAPInvoiceClient(service: try await SAPService.make(settings: settings, policy: policy))
    }

    /// What `sap.supplier_invoice.create` does: checks `invoice`, looks it up by its reference
    /// (`reference` when it names none) and creates it unless found; the task's output.
    public func createOnce(_ invoice: JSONValue, reference: String, logger: Logger) async throws -> JSONValue {
        let checked: SAPSupplierInvoice
        do {
            checked = try SAPSupplierInvoice(invoice, reference: reference)
        } catch {
            throw AgentFailure("sap: \(error)", retryable: false)
        }
        return .object(
            try await SAPSupplierInvoiceKind.Work.create(checked).perform(
                on: SAPSupplierInvoices(service: service), logger: logger))
    }

    public func shutdown() async { await service.shutdown() }
}
