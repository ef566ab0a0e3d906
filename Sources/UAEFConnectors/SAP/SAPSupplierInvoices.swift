import Foundation
import Logging
import UAEFCore
import UAEFEngine

/// The supplier invoices of an `API_SUPPLIERINVOICE_PROCESS_SRV` service: look up by the
/// supplier's reference, create (deep insert), read, and the function imports `Post`, `Release`
/// and `Cancel` (HTTP `POST` with their parameters as OData literals in the query).
struct SAPSupplierInvoices: Sendable {
    let service: SAPService

    /// What UAEF reads of a supplier invoice.
    struct Document: Sendable, Equatable {
        var supplierInvoice: String
        var fiscalYear: String
        /// `SupplierInvoiceStatus`: `5` posted, `A` parked, `D` held, and the others of RBSTAT.
        var status: String
        var reference: String
        var invoicingParty: String
        var isReversed: Bool
        var isReversal: Bool
        /// The reversal document (`ReverseDocument`, `ReverseDocumentFiscalYear`) once reversed.
        var reverseDocument: String?
        var reverseDocumentFiscalYear: String?

        init?(_ value: JSONValue) {
            guard let id = value["SupplierInvoice"]?.stringValue, let year = value["FiscalYear"]?.stringValue else {
                return nil
            }
            supplierInvoice = id
            fiscalYear = year
            status = value["SupplierInvoiceStatus"]?.stringValue ?? ""
            reference = value["SupplierInvoiceIDByInvcgParty"]?.stringValue ?? ""
            invoicingParty = value["InvoicingParty"]?.stringValue ?? ""
            isReversed = value["IsReversed"] == .bool(true)
            isReversal = value["IsReversal"] == .bool(true)
            let reverse = value["ReverseDocument"]?.stringValue ?? ""
            reverseDocument = reverse.isEmpty ? nil : reverse
            let reverseYear = value["ReverseDocumentFiscalYear"]?.stringValue ?? ""
            reverseDocumentFiscalYear = reverseYear.isEmpty || reverseYear == "0000" ? nil : reverseYear
        }

        /// Posted (`5`, or blank: posted online).
        var isPosted: Bool { status == "5" || status.isEmpty }

        /// The output a task reports for this document.
        var output: [String: JSONValue] {
            var output: [String: JSONValue] = [
                "supplier_invoice": .string(supplierInvoice), "fiscal_year": .string(fiscalYear),
                "status": .string(status), "reference": .string(reference),
                "invoicing_party": .string(invoicingParty),
            ]
            if let reverseDocument { output["reverse_document"] = .string(reverseDocument) }
            if let reverseDocumentFiscalYear {
                output["reverse_document_fiscal_year"] = .string(reverseDocumentFiscalYear)
            }
            return output
        }
    }

    static let selected = [
        "SupplierInvoice", "FiscalYear", "SupplierInvoiceStatus", "SupplierInvoiceIDByInvcgParty", "InvoicingParty",
        "IsReversed", "IsReversal", "ReverseDocument", "ReverseDocumentFiscalYear",
    ].joined(separator: ",")

    /// The invoices with the supplier's `reference` from `party`.
    func find(reference: String, party: String, logger: Logger) async throws -> [Document] {
        let filter =
            "SupplierInvoiceIDByInvcgParty eq \(ODataV2.literal(reference)) and InvoicingParty eq \(ODataV2.literal(party))"
        let value = try await service.get(
            "A_SupplierInvoice", query: [("$filter", filter), ("$select", Self.selected), ("$format", "json")],
            logger: logger)
        return (value["results"]?.arrayValue ?? []).compactMap(Document.init)
    }

    /// Creates `invoice` with its items in one deep insert.
    func create(_ invoice: SAPSupplierInvoice, logger: Logger) async throws -> Document {
        let answer = try await service.modify("A_SupplierInvoice", body: .object(invoice.entity), logger: logger)
        guard let value = answer.value, let document = Document(value) else {
            throw AgentFailure(
                "sap: POST A_SupplierInvoice answered \(answer.status) without the created invoice's SupplierInvoice and FiscalYear"
            )
        }
        return document
    }

    /// The invoice `id` of `year`.
    func read(_ id: String, year: String, logger: Logger) async throws -> Document {
        let value = try await service.get(
            Self.key(id, year), query: [("$select", Self.selected), ("$format", "json")], logger: logger)
        guard let document = Document(value) else {
            throw AgentFailure("sap: GET \(Self.key(id, year)) answered without the invoice")
        }
        return document
    }

    /// `Post`: posts a parked or held invoice.
    func post(_ id: String, year: String, logger: Logger) async throws {
        try await call(
            "Post", [("SupplierInvoice", ODataV2.literal(id)), ("FiscalYear", ODataV2.literal(year))], logger: logger)
    }

    /// `Release`: releases an invoice blocked for payment.
    func release(_ id: String, year: String, shiftDiscountDays: Bool, logger: Logger) async throws {
        try await call(
            "Release",
            [
                ("SupplierInvoice", ODataV2.literal(id)), ("FiscalYear", ODataV2.literal(year)),
                ("DiscountDaysHaveToBeShifted", shiftDiscountDays ? "true" : "false"),
            ], logger: logger)
    }

    /// `Cancel`: reverses a posted invoice on `postingDate` for `reason`; the reversal document.
    func cancel(_ id: String, year: String, postingDate: String, reason: String, logger: Logger) async throws
        -> (document: String, fiscalYear: String)
    {
        let result = try await call(
            "Cancel",
            [
                ("PostingDate", ODataV2.dateTimeLiteral(postingDate)), ("ReversalReason", ODataV2.literal(reason)),
                ("FiscalYear", ODataV2.literal(year)), ("SupplierInvoice", ODataV2.literal(id)),
            ], logger: logger)
        guard let document = result["ReverseDocument"]?.stringValue, let fiscalYear = result["FiscalYear"]?.stringValue
        else { throw AgentFailure("sap: Cancel answered without the ReverseDocument and FiscalYear") }
        return (document, fiscalYear)
    }

    /// Calls the function import `name`; its result (the object under its name), which must
    /// report `Success: true`.
    @discardableResult
    private func call(_ name: String, _ parameters: [(String, String)], logger: Logger) async throws -> JSONValue {
        let answer = try await service.modify(
            name, query: parameters + [("$format", "json")], body: nil, logger: logger)
        let result = answer.value?[name] ?? .null
        guard result["Success"] == .bool(true) else {
            throw AgentFailure("sap: \(name) answered \(answer.status) without Success: true")
        }
        return result
    }

    /// The entity's path: `A_SupplierInvoice(SupplierInvoice='…',FiscalYear='…')`.
    static func key(_ id: String, _ year: String) -> String {
        "A_SupplierInvoice(SupplierInvoice=\(ODataV2.literal(id)),FiscalYear=\(ODataV2.literal(year)))"
    }
}
