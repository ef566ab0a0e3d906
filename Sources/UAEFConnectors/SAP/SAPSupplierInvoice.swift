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

    typealias PropertyType = ERPSchema.PropertyType
    typealias EntityType = ERPSchema.EntityType

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

    /// How SAP's OData V2 service takes values: days as `/Date(ms)/`, items as `{"results": [...]}`.
    static let wire = ERPSchema.Wire(
        system: "SAP", currencyProperty: "DocumentCurrency", date: ODataV2.jsonDate,
        collection: { ["results": .array($0)] }, decimal: { "Edm.Decimal(\($0),\($1))" },
        numberHint: " (quote it: leading zeros matter to SAP)")

    /// The invoice `value` describes (SAP property names; days as `yyyy-MM-dd`; amounts as numbers
    /// or decimal text; items as lists), with `reference` as `SupplierInvoiceIDByInvcgParty` when
    /// it gives none. Every problem found is reported, each naming its property.
    init(_ value: JSONValue, reference derived: String) throws(ERPDocumentProblems) {
        var (entity, problems) = ERPSchema.document(value, as: Self.header, noun: "invoice", wire: Self.wire)
        let members = value.objectValue ?? [:]
        let reference = members["SupplierInvoiceIDByInvcgParty"]?.stringValue ?? derived
        entity["SupplierInvoiceIDByInvcgParty"] = .string(reference)
        guard problems.isEmpty else { throw ERPDocumentProblems(problems) }
        self.entity = entity
        self.reference = reference
        invoicingParty = members["InvoicingParty"]?.stringValue ?? ""
    }
}
