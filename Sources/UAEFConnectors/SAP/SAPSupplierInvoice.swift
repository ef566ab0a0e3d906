import Foundation
import UAEFCore

/// A supplier invoice for `POST A_SupplierInvoice` (a deep insert with its items), checked
/// against the service's metadata before anything is sent: every property known, strings
/// within their lengths, `Edm.Decimal` amounts with at most the currency's decimals (sent as
/// strings with exactly that many), days as `Edm.DateTime`, the mandatory properties present.
///
/// The property tables are those of `API_SUPPLIERINVOICE_PROCESS_SRV`'s `$metadata` (entity
/// types `A_SupplierInvoiceType`, `A_SuplrInvcItemPurOrdRefType`,
/// `A_SupplierInvoiceItemGLAcctType`, `A_SupplierInvoiceTaxType`) and the mandatory ones those of
/// the SAP Business Accelerator Hub OpenAPI document's `-create` schemas (version 1.5.0).
struct SAPSupplierInvoice: Sendable {
    /// The entity as sent: SAP property names, OData V2 JSON values, items as `{"results": [...]}`.
    var entity: [String: JSONValue]

    /// The supplier's reference (`SupplierInvoiceIDByInvcgParty`) and the invoicing party: what
    /// finds the document again after an answer was lost.
    var reference: String
    var invoicingParty: String

    /// How one property is typed.
    enum PropertyType: Sendable {
        /// `Edm.String` of at most this many characters.
        case string(Int)
        /// `Edm.Decimal`; `amount` takes the document currency's decimals, otherwise at most `scale`.
        case decimal(precision: Int, scale: Int, amount: Bool)
        /// `Edm.DateTime` holding a day, given as `yyyy-MM-dd`.
        case date
        case boolean
    }

    /// An entity type's creatable properties, those mandatory on create, and its item collections.
    struct EntityType: Sendable {
        var name: String
        var properties: [String: PropertyType]
        var required: [String]
        /// Navigation property → item type.
        var items: [String: EntityType] = [:]
    }

    static let amount = PropertyType.decimal(precision: 14, scale: 3, amount: true)
    static let quantity = PropertyType.decimal(precision: 13, scale: 3, amount: false)

    static let purchaseOrderItem = EntityType(
        name: "A_SuplrInvcItemPurOrdRef",
        properties: [
            "SupplierInvoiceItem": .string(6), "PurchaseOrder": .string(10), "PurchaseOrderItem": .string(5),
            "Plant": .string(4), "ReferenceDocument": .string(10), "ReferenceDocumentFiscalYear": .string(4),
            "ReferenceDocumentItem": .string(4), "IsSubsequentDebitCredit": .string(1), "TaxCode": .string(2),
            "TaxJurisdiction": .string(15), "DocumentCurrency": .string(5), "SupplierInvoiceItemAmount": amount,
            "PurchaseOrderQuantityUnit": .string(3), "PurchaseOrderQtyUnitSAPCode": .string(3),
            "PurchaseOrderQtyUnitISOCode": .string(3), "QuantityInPurchaseOrderUnit": quantity,
            "PurchaseOrderPriceUnit": .string(3), "PurchaseOrderPriceUnitSAPCode": .string(3),
            "PurchaseOrderPriceUnitISOCode": .string(3), "QtyInPurchaseOrderPriceUnit": quantity,
            "SuplrInvcDeliveryCostCndnType": .string(4), "SuplrInvcDeliveryCostCndnStep": .string(3),
            "SuplrInvcDeliveryCostCndnCount": .string(3), "SupplierInvoiceItemText": .string(50),
            "FreightSupplier": .string(10), "IsNotCashDiscountLiable": .boolean,
            "RetentionAmountInDocCurrency": amount,
            "RetentionPercentage": .decimal(precision: 5, scale: 2, amount: false),
            "RetentionDueDate": .date, "SuplrInvcItmIsNotRlvtForRtntn": .boolean, "ServiceEntrySheet": .string(10),
            "ServiceEntrySheetItem": .string(10), "TaxCountry": .string(3), "IsFinallyInvoiced": .boolean,
            "TaxDeterminationDate": .date,
        ],
        required: ["SupplierInvoiceItem", "PurchaseOrder", "PurchaseOrderItem", "TaxCode", "SupplierInvoiceItemAmount"])

    static let glAccountItem = EntityType(
        name: "A_SupplierInvoiceItemGLAcct",
        properties: [
            "SupplierInvoiceItem": .string(4), "CompanyCode": .string(4), "CostCenter": .string(10),
            "ControllingArea": .string(4), "BusinessArea": .string(4), "ProfitCenter": .string(10),
            "FunctionalArea": .string(16), "GLAccount": .string(10), "SalesOrder": .string(10),
            "SalesOrderItem": .string(6), "CostObject": .string(12), "CostCtrActivityType": .string(6),
            "BusinessProcess": .string(12), "WBSElement": .string(24), "DocumentCurrency": .string(5),
            "SupplierInvoiceItemAmount": amount, "TaxCode": .string(2), "TaxJurisdiction": .string(15),
            "TaxCountry": .string(3), "PersonnelNumber": .string(8), "WorkItem": .string(10),
            "DebitCreditCode": .string(1), "SupplierInvoiceItemText": .string(50), "AssignmentReference": .string(18),
            "IsNotCashDiscountLiable": .boolean, "InternalOrder": .string(12), "ProjectNetwork": .string(12),
            "NetworkActivity": .string(4), "CommitmentItem": .string(24), "FundsCenter": .string(16),
            "Fund": .string(10), "GrantID": .string(20), "BudgetPeriod": .string(10),
            "TaxBaseAmountInTransCrcy": amount, "QuantityUnit": .string(3), "SuplrInvcItmQtyUnitSAPCode": .string(3),
            "SuplrInvcItmQtyUnitISOCode": .string(3), "Quantity": quantity, "PartnerBusinessArea": .string(4),
            "FinancialTransactionType": .string(3), "EarmarkedFundsDocument": .string(10),
            "EarmarkedFundsDocumentItem": .string(3),
        ],
        required: ["SupplierInvoiceItem", "GLAccount", "SupplierInvoiceItemAmount", "DebitCreditCode"])

    static let taxItem = EntityType(
        name: "A_SupplierInvoiceTax",
        properties: [
            "TaxCode": .string(2), "DocumentCurrency": .string(5), "TaxAmount": amount,
            "TaxBaseAmountInTransCrcy": .decimal(precision: 16, scale: 3, amount: true),
            "TaxJurisdiction": .string(15), "TaxCountry": .string(3), "TaxDeterminationDate": .date,
            "TaxRateValidityStartDate": .date,
        ],
        required: ["TaxCode", "TaxAmount"])

    static let header = EntityType(
        name: "A_SupplierInvoice",
        properties: [
            "CompanyCode": .string(4), "DocumentDate": .date, "PostingDate": .date,
            "SupplierInvoiceIDByInvcgParty": .string(16), "InvoicingParty": .string(10),
            "DocumentCurrency": .string(5), "InvoiceGrossAmount": amount, "UnplannedDeliveryCost": amount,
            "DocumentHeaderText": .string(25), "ManualCashDiscount": amount, "PaymentTerms": .string(4),
            "DueCalculationBaseDate": .date, "CashDiscount1Percent": .decimal(precision: 5, scale: 3, amount: false),
            "CashDiscount1Days": .decimal(precision: 3, scale: 0, amount: false),
            "CashDiscount2Percent": .decimal(precision: 5, scale: 3, amount: false),
            "CashDiscount2Days": .decimal(precision: 3, scale: 0, amount: false),
            "NetPaymentDays": .decimal(precision: 3, scale: 0, amount: false), "PaymentBlockingReason": .string(1),
            "AccountingDocumentType": .string(2), "BPBankAccountInternalID": .string(4),
            "SupplierInvoiceStatus": .string(1),
            "IndirectQuotedExchangeRate": .decimal(precision: 9, scale: 5, amount: false),
            "DirectQuotedExchangeRate": .decimal(precision: 9, scale: 5, amount: false),
            "StateCentralBankPaymentReason": .string(3), "SupplyingCountry": .string(3), "PaymentMethod": .string(1),
            "PaymentMethodSupplement": .string(2), "PaymentReference": .string(30), "InvoiceReference": .string(10),
            "InvoiceReferenceFiscalYear": .string(4), "FixedCashDiscount": .string(1),
            "UnplannedDeliveryCostTaxCode": .string(2), "UnplndDelivCostTaxJurisdiction": .string(15),
            "UnplndDeliveryCostTaxCountry": .string(3), "AssignmentReference": .string(18),
            "SupplierPostingLineItemText": .string(50), "TaxIsCalculatedAutomatically": .boolean,
            "BusinessPlace": .string(4), "BusinessSectionCode": .string(4), "BusinessArea": .string(4),
            "SuplrInvcIsCapitalGoodsRelated": .boolean, "SupplierInvoiceIsCreditMemo": .string(1),
            "PaytSlipWthRefSubscriber": .string(11), "PaytSlipWthRefCheckDigit": .string(2),
            "PaytSlipWthRefReference": .string(27), "TaxDeterminationDate": .date, "TaxReportingDate": .date,
            "TaxFulfillmentDate": .date, "InvoiceReceiptDate": .date, "DeliveryOfGoodsReportingCntry": .string(3),
            "SupplierVATRegistration": .string(20), "IsEUTriangularDeal": .boolean,
            "SuplrInvcDebitCrdtCodeDelivery": .string(1), "SuplrInvcDebitCrdtCodeReturns": .string(1),
            "RetentionDueDate": .date, "PaymentReason": .string(4), "HouseBank": .string(5),
            "HouseBankAccount": .string(5),
        ],
        // InvoicingParty is not mandatory to SAP (a purchase order names the supplier) but is to
        // UAEF: with the reference it finds a document whose creation's answer was lost.
        required: [
            "CompanyCode", "DocumentDate", "PostingDate", "DocumentCurrency", "InvoiceGrossAmount", "InvoicingParty",
        ],
        items: [
            "to_SuplrInvcItemPurOrdRef": purchaseOrderItem, "to_SupplierInvoiceItemGLAcct": glAccountItem,
            "to_SupplierInvoiceTax": taxItem,
        ])

    /// The most items of one collection; SAP numbers them in 4 to 6 digits.
    static let maximumItems = 999

    /// The invoice `value` describes (SAP property names; days as `yyyy-MM-dd`; amounts as numbers
    /// or decimal text; items as lists), with `reference` as `SupplierInvoiceIDByInvcgParty` when
    /// it gives none. Every problem found is reported, each naming its property.
    init(_ value: JSONValue, reference derived: String) throws(SAPInvoiceProblems) {
        guard let members = value.objectValue else {
            throw SAPInvoiceProblems(["invoice: expected an object of A_SupplierInvoice properties"])
        }
        var problems: [String] = []
        let currency = members["DocumentCurrency"]?.stringValue.flatMap { Currency(code: $0) }
        if let code = members["DocumentCurrency"]?.stringValue, currency == nil {
            problems.append(
                "invoice.DocumentCurrency: \(code.prefix(8).debugDescription) is not an ISO 4217 currency code")
        }
        var entity = Self.encode(members, as: Self.header, at: "invoice", currency: currency, problems: &problems)
        let reference = members["SupplierInvoiceIDByInvcgParty"]?.stringValue ?? derived
        entity["SupplierInvoiceIDByInvcgParty"] = .string(reference)
        guard problems.isEmpty else { throw SAPInvoiceProblems(problems) }
        self.entity = entity
        self.reference = reference
        invoicingParty = members["InvoicingParty"]?.stringValue ?? ""
    }

    /// `members` as `type`'s OData JSON, with what is wrong added to `problems`.
    private static func encode(
        _ members: [String: JSONValue], as type: EntityType, at path: String, currency: Currency?,
        problems: inout [String]
    ) -> [String: JSONValue] {
        var entity: [String: JSONValue] = [:]
        for name in type.required where members[name] == nil || members[name] == .null {
            problems.append("\(path).\(name): required for a \(type.name)")
        }
        for (name, value) in members.sorted(by: { $0.key < $1.key }) {
            let field = "\(path).\(name)"
            if let itemType = type.items[name] {
                let list = value.arrayValue ?? value["results"]?.arrayValue
                guard let list, list.count <= maximumItems else {
                    problems.append("\(field): expected a list of at most \(maximumItems) \(itemType.name) items")
                    continue
                }
                var items: [JSONValue] = []
                for (index, item) in list.enumerated() {
                    guard let itemMembers = item.objectValue else {
                        problems.append("\(field)[\(index)]: expected an object of \(itemType.name) properties")
                        continue
                    }
                    items.append(
                        .object(
                            encode(
                                itemMembers, as: itemType, at: "\(field)[\(index)]", currency: currency,
                                problems: &problems)))
                }
                entity[name] = ["results": .array(items)]
                continue
            }
            guard let property = type.properties[name] else {
                problems.append(
                    "\(field): not a property UAEF creates on \(type.name)\(suggestion(for: name, in: type))")
                continue
            }
            if value == .null { continue }
            switch encode(value, as: property, currency: currency) {
            case .success(let encoded): entity[name] = encoded
            case .failure(let problem): problems.append("\(field): \(problem.text)")
            }
        }
        return entity
    }

    private static func suggestion(for name: String, in type: EntityType) -> String {
        let lower = name.lowercased()
        if let match = (Array(type.properties.keys) + Array(type.items.keys)).first(where: { $0.lowercased() == lower })
        {
            return " (property names are case-sensitive: \(match))"
        }
        return "; see docs/erp.md for the properties"
    }

    struct Problem: Error {
        var text: String
    }

    /// One value as OData V2 JSON for `property`.
    static func encode(_ value: JSONValue, as property: PropertyType, currency: Currency?) -> Result<JSONValue, Problem>
    {
        switch property {
        case .string(let length):
            guard let text = value.stringValue else {
                let hint = value.numberValue != nil ? " (quote it: leading zeros matter to SAP)" : ""
                return .failure(Problem(text: "expected text of at most \(length) characters\(hint)"))
            }
            guard text.utf16.count <= length else {
                return .failure(Problem(text: "\(text.utf16.count) characters; SAP allows at most \(length)"))
            }
            guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .failure(Problem(text: "holds a control character"))
            }
            return .success(.string(text))
        case .date:
            guard let day = value.stringValue, let encoded = ODataV2.jsonDate(day) else {
                return .failure(Problem(text: "expected a day as yyyy-MM-dd, such as 2026-11-30"))
            }
            return .success(.string(encoded))
        case .boolean:
            guard case .bool = value else { return .failure(Problem(text: "expected true or false")) }
            return .success(value)
        case .decimal(let precision, let scale, let isAmount):
            let number = value.numberValue ?? value.stringValue.flatMap { Number(parsing: $0) }
            guard let number else {
                return .failure(Problem(text: "expected a decimal number (as a number or as text such as \"1190.00\")"))
            }
            var decimals = scale
            if isAmount {
                guard let currency else {
                    return .failure(Problem(text: "an amount needs the invoice's DocumentCurrency for its decimals"))
                }
                decimals = min(scale, currency.minorUnitDigits)
                guard number.rounded(scale: decimals, mode: .plain) == number else {
                    return .failure(
                        Problem(text: "\(number) has more decimals than \(currency.code)'s \(currency.minorUnitDigits)")
                    )
                }
            } else {
                guard number.rounded(scale: decimals, mode: .plain) == number else {
                    return .failure(Problem(text: "\(number) has more than \(decimals) decimals"))
                }
            }
            guard let text = fixed(number, decimals: decimals), text.filter(\.isNumber).count <= precision else {
                return .failure(
                    Problem(
                        text:
                            "\(number) does not fit Edm.Decimal(\(precision),\(scale)): at most \(precision - scale) whole digits"
                    ))
            }
            return .success(.string(text))
        }
    }

    /// `number` with exactly `decimals` digits after the point, as SAP writes amounts.
    static func fixed(_ number: Number, decimals: Int) -> String? {
        var scaled = number.decimal
        var power = Decimal(1)
        for _ in 0..<decimals { power *= 10 }
        scaled *= power
        let units = NSDecimalNumber(decimal: scaled).int64Value
        guard Decimal(units) == scaled else { return nil }
        let magnitude = String(units.magnitude)
        let padded = String(repeating: "0", count: max(0, decimals + 1 - magnitude.count)) + magnitude
        let whole = padded.dropLast(decimals)
        let fraction = padded.suffix(decimals)
        return (units < 0 ? "-" : "") + whole + (decimals > 0 ? "." + fraction : "")
    }
}

/// What is wrong with an invoice, every problem naming its property.
struct SAPInvoiceProblems: Error, CustomStringConvertible {
    var problems: [String]

    init(_ problems: [String]) { self.problems = problems }

    var description: String {
        problems.prefix(20).joined(separator: "; ")
            + (problems.count > 20 ? "; and \(problems.count - 20) more" : "")
    }
}
