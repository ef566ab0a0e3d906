import Foundation
import Logging
import UAEFCore
import UAEFEngine

/// A Payables invoice for `POST …/invoices` (with its `invoiceLines` and their
/// `invoiceDistributions`), checked before anything is sent. The properties are those Oracle's
/// "REST API Attributes" for Payables Invoices lets a POST set; lengths are those of the
/// columns behind them (`AP_INVOICES_ALL`, `AP_INVOICES_INTERFACE`, `AP_INVOICE_LINES_INTERFACE`);
/// see docs/erp-references/oracle.md.
struct OracleInvoice: Sendable {
    var entity: [String: JSONValue]
    /// The business key: Oracle refuses a second invoice with this number for the supplier.
    var number: String
    var supplier: String

    typealias EntityType = ERPSchema.EntityType

    static let amount = ERPSchema.PropertyType.decimal(precision: 22, scale: 4, amount: true)
    static let count = ERPSchema.PropertyType.decimal(precision: 15, scale: 0, amount: false)
    static let quantity = ERPSchema.PropertyType.decimal(precision: 22, scale: 5, amount: false)

    static let distribution = EntityType(
        name: "invoiceDistributions",
        properties: [
            "DistributionLineNumber": count, "DistributionLineType": .string(25), "DistributionAmount": amount,
            "DistributionCombination": .string(250), "Description": .string(240), "AccountingDate": .date,
            "Quantity": quantity,
        ],
        required: ["DistributionLineNumber", "DistributionAmount", "DistributionCombination"])

    static let line = EntityType(
        name: "invoiceLines",
        properties: [
            "LineNumber": count, "LineType": .string(25), "LineAmount": amount, "Description": .string(240),
            "Quantity": quantity, "UnitPrice": quantity, "UOM": .string(25), "AccountingDate": .date,
            "PurchaseOrderNumber": .string(30), "PurchaseOrderLineNumber": count,
            "PurchaseOrderScheduleLineNumber": count, "ReceiptNumber": .string(30), "ReceiptLineNumber": count,
            "ConsumptionAdviceNumber": .string(30), "ConsumptionAdviceLineNumber": count,
            "DistributionCombination": .string(250), "DistributionSet": .string(50),
            "ProrateAcrossAllItemsFlag": .boolean, "FinalMatchFlag": .boolean, "TaxClassification": .string(30),
            "TaxRateCode": .string(150), "ShipToLocation": .string(60), "Item": .string(300),
            "TrackAsAssetFlag": .boolean, "Requester": .string(240),
        ],
        required: ["LineNumber", "LineAmount"], items: ["invoiceDistributions": distribution])

    static let header = EntityType(
        name: "invoices",
        properties: [
            "InvoiceNumber": .string(50), "InvoiceCurrency": .string(15), "PaymentCurrency": .string(15),
            "InvoiceAmount": amount, "InvoiceDate": .date, "AccountingDate": .date, "TermsDate": .date,
            "GoodsReceivedDate": .date, "InvoiceReceivedDate": .date, "ApplyAfterDate": .date,
            "BusinessUnit": .string(240), "Supplier": .string(240), "SupplierNumber": .string(30),
            "SupplierSite": .string(15), "InvoiceType": .string(25), "Description": .string(240),
            "PaymentTerms": .string(50), "InvoiceGroup": .string(80), "PurchaseOrderNumber": .string(30),
            "LegalEntity": .string(240), "Requester": .string(240), "InvoiceSource": .string(80),
            "PayGroup": .string(25), "LiabilityDistribution": .string(250), "DocumentCategory": .string(30),
            "VoucherNumber": .string(50), "PayAloneFlag": .boolean, "ConversionRateType": .string(30),
            "ConversionDate": .date, "ConversionRate": .decimal(precision: 24, scale: 10, amount: false),
            "PaymentMethodCode": .string(30), "ControlAmount": amount,
        ],
        required: ["InvoiceCurrency", "InvoiceAmount", "InvoiceDate", "BusinessUnit", "Supplier", "SupplierSite"],
        items: ["invoiceLines": line])

    /// Oracle takes days as `yyyy-MM-dd` and lists as arrays; numbers as text keep their decimals.
    static let wire = ERPSchema.Wire(
        system: "Oracle", currencyProperty: "InvoiceCurrency", date: { ODataV2.date($0) == nil ? nil : $0 },
        collection: { .array($0) }, decimal: { "NUMBER(\($0),\($1))" }, numberHint: " (quote it)")

    /// The invoice `value` describes, with `number` as its `InvoiceNumber` when it gives none.
    init(_ value: JSONValue, number derived: String) throws(ERPDocumentProblems) {
        var (entity, problems) = ERPSchema.document(value, as: Self.header, noun: "invoice", wire: Self.wire)
        let members = value.objectValue ?? [:]
        number = members["InvoiceNumber"]?.stringValue ?? derived
        entity["InvoiceNumber"] = .string(number)
        supplier = members["Supplier"]?.stringValue ?? ""
        // The lookup quotes both in the `q` filter, where a quote or semicolon would end the value.
        for (property, text) in [("InvoiceNumber", number), ("Supplier", supplier)]
        where text.contains(where: { "';\"".contains($0) }) {
            problems.append("invoice.\(property): may not hold ' ; or \" (UAEF finds the invoice by it)")
        }
        guard problems.isEmpty else { throw ERPDocumentProblems(problems) }
        self.entity = entity
    }
}

/// The Payables invoices of a Fusion pod: found by number and supplier, created.
struct OracleInvoices: Sendable {
    let fusion: OracleFusion

    static let contentType = "application/vnd.oracle.adf.resourceitem+json"
    static let fields =
        "InvoiceId,InvoiceNumber,Supplier,SupplierNumber,InvoiceAmount,InvoiceCurrency,ValidationStatus,CanceledFlag"

    /// What a task reports of an invoice.
    static func output(_ value: JSONValue) -> [String: JSONValue]? {
        guard
            let id = value["InvoiceId"]?.numberValue ?? value["InvoiceId"]?.stringValue.flatMap({ Number(parsing: $0) })
        else { return nil }
        var output: [String: JSONValue] = ["invoice_id": .string("\(id)")]
        for (key, name) in [
            ("invoice_number", "InvoiceNumber"), ("supplier", "Supplier"), ("supplier_number", "SupplierNumber"),
            ("validation_status", "ValidationStatus"),
        ] {
            if let text = value[name]?.stringValue { output[key] = .string(text) }
        }
        return output
    }

    /// The invoices numbered `number` from `supplier`, cancelled ones left out.
    func find(number: String, supplier: String, logger: Logger) async throws -> [JSONValue] {
        let value = try await fusion.get(
            "invoices",
            query: [
                ("q", "InvoiceNumber='\(number)';Supplier='\(supplier)'"), ("onlyData", "true"),
                ("fields", Self.fields),
            ], logger: logger)
        return (value["items"]?.arrayValue ?? []).filter { $0["CanceledFlag"] != .bool(true) }
    }

    /// Creates `invoice`; the invoice Oracle answered (201).
    func create(_ invoice: OracleInvoice, logger: Logger) async throws -> JSONValue {
        try await fusion.post("invoices", body: .object(invoice.entity), contentType: Self.contentType, logger: logger)
            .value
    }

    /// The invoice `invoice` names, found or created: what `oracle.invoice.create` does in an
    /// attempt. One found is adopted; a create that Oracle refuses as a duplicate (another
    /// attempt or process created it meanwhile) is looked up again and adopted.
    func createOnce(_ invoice: OracleInvoice, logger: Logger) async throws -> [String: JSONValue] {
        func adopt(_ found: [JSONValue]) throws -> [String: JSONValue]? {
            guard found.count <= 1 else {
                throw AgentFailure(
                    "oracle: \(found.count) invoices are numbered \(invoice.number) from \(invoice.supplier); which one this task created cannot be told",
                    retryable: false)
            }
            return found.first.flatMap(Self.output)?.merging(["adopted": true]) { $1 }
        }
        if let adopted = try adopt(try await find(number: invoice.number, supplier: invoice.supplier, logger: logger)) {
            return adopted
        }
        do {
            let created = try await create(invoice, logger: logger)
            guard let output = Self.output(created) else {
                throw AgentFailure("oracle: POST invoices answered without the invoice's InvoiceId")
            }
            return output.merging(["adopted": false]) { $1 }
        } catch let failure as AgentFailure where failure.message.contains("AP-810776") {
            guard
                let adopted = try adopt(
                    try await find(number: invoice.number, supplier: invoice.supplier, logger: logger))
            else { throw failure }
            return adopted
        }
    }
}
