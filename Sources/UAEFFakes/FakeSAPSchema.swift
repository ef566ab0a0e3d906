import Foundation
import UAEFCore

/// What the fake SAP service checks of a deep insert, written apart from UAEF's client (which
/// checks more) so that each tests the other: the mandatory properties of the header and of each
/// item (SAP Business Accelerator Hub OpenAPI, `A_SupplierInvoiceType-create` and the items'
/// `-create` schemas), the lengths of the header's identifying strings (`$metadata`
/// MaxLength), `Edm.Decimal` values as strings within (14,3), `Edm.DateTime` values as
/// `/Date(ms)/` (or the ISO form SAP Gateway also reads), and item collections as
/// `{"results": [...]}` or a list.
enum FakeSAPSchema {
    struct Problem {
        var code: String
        var message: String
    }

    static let headerRequired = [
        "CompanyCode", "DocumentDate", "PostingDate", "DocumentCurrency", "InvoiceGrossAmount",
    ]
    static let lengths = [
        "CompanyCode": 4, "InvoicingParty": 10, "SupplierInvoiceIDByInvcgParty": 16, "DocumentCurrency": 5,
        "DocumentHeaderText": 25, "PaymentTerms": 4, "AccountingDocumentType": 2, "SupplierInvoiceStatus": 1,
    ]
    static let decimals: Set = [
        "InvoiceGrossAmount", "UnplannedDeliveryCost", "ManualCashDiscount", "SupplierInvoiceItemAmount", "TaxAmount",
        "QuantityInPurchaseOrderUnit", "Quantity",
    ]
    static let dates: Set = ["DocumentDate", "PostingDate", "DueCalculationBaseDate", "TaxDeterminationDate"]
    static let items: [String: (type: String, required: [String])] = [
        "to_SuplrInvcItemPurOrdRef": (
            "A_SuplrInvcItemPurOrdRefType",
            ["SupplierInvoiceItem", "PurchaseOrder", "PurchaseOrderItem", "TaxCode", "SupplierInvoiceItemAmount"]
        ),
        "to_SupplierInvoiceItemGLAcct": (
            "A_SupplierInvoiceItemGLAcctType",
            ["SupplierInvoiceItem", "GLAccount", "SupplierInvoiceItemAmount", "DebitCreditCode"]
        ),
        "to_SupplierInvoiceTax": ("A_SupplierInvoiceTaxType", ["TaxCode", "TaxAmount"]),
    ]

    static func problems(in entity: [String: JSONValue]) -> [Problem] {
        var problems = check(entity, type: "A_SupplierInvoiceType", required: headerRequired)
        for (navigation, item) in items.sorted(by: { $0.key < $1.key }) {
            guard let value = entity[navigation] else { continue }
            guard let list = value.arrayValue ?? value["results"]?.arrayValue else {
                problems.append(
                    Problem(
                        code: "/IWBEP/CM_MGW_RT/004", message: "Malformed value for navigation property \(navigation)"))
                continue
            }
            for element in list {
                problems += check(element.objectValue ?? [:], type: item.type, required: item.required)
            }
        }
        return problems
    }

    private static func check(_ entity: [String: JSONValue], type: String, required: [String]) -> [Problem] {
        var problems: [Problem] = []
        for name in required where entity[name] == nil || entity[name] == .null || entity[name] == "" {
            problems.append(Problem(code: "M8/057", message: "Make an entry in field \(name) of \(type)"))
        }
        for (name, value) in entity.sorted(by: { $0.key < $1.key }) {
            if let length = lengths[name], let text = value.stringValue, text.utf16.count > length {
                problems.append(
                    Problem(
                        code: "/IWBEP/CM_MGW_RT/002",
                        message: "Value '\(text.prefix(40))' of property \(name) exceeds its maximum length \(length)"))
            }
            if decimals.contains(name), !isDecimal(value) {
                problems.append(
                    Problem(
                        code: "/IWBEP/CM_MGW_RT/004",
                        message: "Invalid Edm.Decimal value for property \(name): expected a string such as \"1190.00\""
                    ))
            }
            if dates.contains(name), value != .null, day(value).isEmpty {
                problems.append(
                    Problem(code: "/IWBEP/CM_MGW_RT/004", message: "Invalid Edm.DateTime value for property \(name)"))
            }
        }
        return problems
    }

    /// A string of at most 11 whole and 3 decimal digits.
    static func isDecimal(_ value: JSONValue) -> Bool {
        guard let text = value.stringValue else { return false }
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), (1...11).contains(parts[0].count),
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return false }
        return parts.count == 1 || (1...3).contains(parts[1].count)
    }

    /// The `yyyy-MM-dd` of a `/Date(ms)/` or ISO date-time value; empty when it is neither.
    static func day(_ value: JSONValue?) -> String {
        guard let text = value?.stringValue else { return "" }
        if text.hasPrefix("/Date("), text.hasSuffix(")/"),
            let milliseconds = Int64(text.dropFirst(6).dropLast(2).prefix { $0 == "-" || $0.isNumber })
        {
            return String(Timestamp.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000)).prefix(10))
        }
        let prefix = text.prefix(10)
        let digits = prefix.filter(\.isNumber)
        guard prefix.count == 10, digits.count == 8, prefix.dropFirst(4).first == "-" else { return "" }
        return String(prefix)
    }
}
