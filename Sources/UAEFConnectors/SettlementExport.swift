import Crypto
import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFStore

/// How an ERP connector turns a posted settlement into a supplier invoice in the ERP: its
/// `export` setting maps UAEF's journal accounts to the ERP's. The account credited (the vendor
/// payable) names the supplier; each account debited becomes an item of the invoice (a G/L
/// account item in SAP, an invoice line with its distribution combination in Oracle), one per
/// transfer.
///
/// ```yaml
/// export:
///   company_code: "1010"                 # SAP; Oracle: business_unit and supplier_site
///   accounts:
///     "payable:acme": {supplier: "17300001"}
///     "expense:services": {account: "0061008000", cost_center: "0010101101", tax_code: V1}
/// ```
struct SettlementExport: Sendable, Equatable {
    /// What one UAEF account is in the ERP.
    struct Mapping: Sendable, Equatable {
        /// The supplier (SAP invoicing party, Oracle supplier name) of a payable account.
        var supplier: String?
        /// The G/L account (SAP) or distribution combination (Oracle) of an expense account.
        var account: String?
        var costCenter: String?
        var taxCode: String?
    }

    var header: [String: String]
    var accounts: [String: Mapping]

    /// The header settings each ERP needs.
    static func headerKeys(_ kind: ConnectorDefinition.Kind) -> (required: [String], optional: [String]) {
        kind == .sap
            ? (["company_code"], ["document_type"])
            : (["business_unit", "supplier_site"], ["invoice_type"])
    }

    /// The export `value` describes for a connector of `kind`, or what is wrong with it.
    static func parse(_ value: JSONValue, kind: ConnectorDefinition.Kind) -> Result<SettlementExport, Problem> {
        guard let members = value.objectValue else {
            return .failure(Problem(description: "expected {accounts: {...}, …}"))
        }
        let (required, optional) = headerKeys(kind)
        let allowed = Set(required + optional + ["accounts"])
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            return .failure(
                Problem(
                    description:
                        "\(unknown) is not an export setting; valid: \(allowed.sorted().joined(separator: ", "))"))
        }
        var header: [String: String] = [:]
        for key in required + optional {
            guard let member = members[key] else {
                if required.contains(key) { return .failure(Problem(description: "\(key) is required")) }
                continue
            }
            guard let text = member.stringValue, (1...240).contains(text.utf16.count) else {
                return .failure(Problem(description: "\(key) must be text of 1 to 240 characters"))
            }
            header[key] = text
        }
        guard let list = members["accounts"]?.objectValue, (1...200).contains(list.count) else {
            return .failure(
                Problem(
                    description:
                        "accounts must map 1 to 200 UAEF account ids to {supplier} or {account, cost_center, tax_code}")
            )
        }
        var accounts: [String: Mapping] = [:]
        for (id, entry) in list {
            guard let fields = entry.objectValue, !fields.isEmpty,
                fields.keys.allSatisfy(["supplier", "account", "cost_center", "tax_code"].contains),
                fields.values.allSatisfy({ $0.stringValue.map { (1...240).contains($0.utf16.count) } ?? false }),
                (fields["supplier"] == nil) != (fields["account"] == nil)
            else {
                return .failure(
                    Problem(
                        description:
                            "accounts.\(id) must be {supplier: ID} (a payable) or {account: ID, cost_center, tax_code} (an expense)"
                    ))
            }
            accounts[id] = Mapping(
                supplier: fields["supplier"]?.stringValue, account: fields["account"]?.stringValue,
                costCenter: fields["cost_center"]?.stringValue, taxCode: fields["tax_code"]?.stringValue)
        }
        return .success(SettlementExport(header: header, accounts: accounts))
    }

    /// What went wrong turning a settlement into an invoice.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The supplier invoice for `settlement`'s `transfers`, in the form the create kinds take, and
    /// the business key that finds it again: `UAEF` and 12 hex digits of the settlement's id.
    func invoice(
        for settlement: SettlementRecord, transfers: [TransferRecord], kind: ConnectorDefinition.Kind
    ) throws(Problem) -> (invoice: JSONValue, key: String) {
        let posted = transfers.filter { $0.phase == .posted }
        let payables = Set(posted.map(\.credit).filter { accounts[$0]?.supplier != nil })
        guard payables.count == 1, let payable = payables.first, let supplier = accounts[payable]?.supplier else {
            throw Problem(
                description:
                    "settlement \(settlement.id) credits \(payables.count == 0 ? "no account mapped to a supplier" : "several accounts mapped to suppliers (\(payables.sorted().joined(separator: ", ")))"): an invoice has one supplier"
            )
        }
        let lines = posted.filter { $0.credit == payable }
        var total = Money(minorUnits: 0, currency: settlement.amount.currency)
        for line in lines {
            guard accounts[line.debit]?.account != nil else {
                throw Problem(
                    description:
                        "account \(line.debit) of settlement \(settlement.id) has no mapping in export.accounts")
            }
            do { total = try total + line.amount } catch { throw Problem(description: "\(error)") }
        }
        let digest = SHA256.hash(data: Data("\(settlement.tenant)\u{0}\(settlement.id)".utf8))
        let key = "UAEF" + digest.prefix(6).map { String(format: "%02X", $0) }.joined()
        let day = String(Timestamp.format(settlement.updatedAt).prefix(10))
        let currency = settlement.amount.currency.code
        if kind == .sap {
            var invoice: [String: JSONValue] = [
                "CompanyCode": .string(header["company_code"] ?? ""), "DocumentDate": .string(day),
                "PostingDate": .string(day), "InvoicingParty": .string(supplier), "DocumentCurrency": .string(currency),
                "InvoiceGrossAmount": .string(total.decimalText), "SupplierInvoiceIDByInvcgParty": .string(key),
                "DocumentHeaderText": .string(String(settlement.id.prefix(25))),
            ]
            if let type = header["document_type"] { invoice["AccountingDocumentType"] = .string(type) }
            invoice["to_SupplierInvoiceItemGLAcct"] = .array(
                lines.enumerated().map { index, line in
                    let mapping = accounts[line.debit] ?? Mapping()
                    var item: [String: JSONValue] = [
                        "SupplierInvoiceItem": .string(String(format: "%04d", index + 1)),
                        "GLAccount": .string(mapping.account ?? ""),
                        "SupplierInvoiceItemAmount": .string(line.amount.decimalText),
                        "DebitCreditCode": "S", "DocumentCurrency": .string(currency),
                    ]
                    if let costCenter = mapping.costCenter { item["CostCenter"] = .string(costCenter) }
                    if let taxCode = mapping.taxCode { item["TaxCode"] = .string(taxCode) }
                    return .object(item)
                })
            return (.object(invoice), key)
        }
        var invoice: [String: JSONValue] = [
            "InvoiceNumber": .string(key), "InvoiceCurrency": .string(currency),
            "InvoiceAmount": .string(total.decimalText),
            "InvoiceDate": .string(day), "BusinessUnit": .string(header["business_unit"] ?? ""),
            "Supplier": .string(supplier), "SupplierSite": .string(header["supplier_site"] ?? ""),
            "Description": .string("Settlement \(settlement.id)"),
        ]
        if let type = header["invoice_type"] { invoice["InvoiceType"] = .string(type) }
        invoice["invoiceLines"] = .array(
            lines.enumerated().map { index, line in
                [
                    "LineNumber": .number(Number(index + 1)), "LineType": "Item",
                    "LineAmount": .string(line.amount.decimalText),
                    "DistributionCombination": .string(accounts[line.debit]?.account ?? ""),
                    "Description": .string("\(line.debit) for \(settlement.id)"),
                ]
            })
        return (.object(invoice), key)
    }
}

/// A subscription of an ERP connector with an `export`: each `settlement.posted` event's
/// settlement becomes a supplier invoice in the ERP, created exactly once (found again by its
/// business key after a lost answer), and the document's id is recorded in the ledger beside the
/// settlement (`erp.document_created`, subject the settlement). Other events are passed over.
struct SettlementExportChannel: DeliveryChannel {
    let store: any WorkflowStore
    let connector: ConnectorRecord
    let export: SettlementExport
    let scrubber: SecretScrubber
    /// Creates the invoice once; its output (the document's ids and `adopted`).
    let create: @Sendable (JSONValue, String, Logger) async throws -> [String: JSONValue]
    let shutdown: @Sendable () async -> Void

    func deliver(id: String, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        guard event.event.type == "settlement.posted" else { return .delivered(status: nil) }
        do {
            guard
                let (settlement, transfers, _) = try await store.settlement(
                    event.event.subject, tenant: connector.tenant)
            else { return .failed(status: nil, error: "settlement \(event.event.subject) not found", retryAfter: nil) }
            let kind = ConnectorDefinition.Kind(rawValue: connector.kind) ?? .sap
            let (invoice, key) = try export.invoice(for: settlement, transfers: transfers, kind: kind)
            let document = try await create(invoice, key, logger)
            var data = document
            data["connector"] = .string(connector.name)
            data["system"] = .string(connector.kind)
            data["delivery"] = .string(id)
            let now = Date()
            var random = SystemRandomNumberGenerator()
            var changes = ChangeSet()
            changes.events = [
                EventDraft(
                    id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: "erp.document_created",
                    actor: "connector:\(connector.name)", tenant: connector.tenant, subject: settlement.id, data: data)
            ]
            try await store.commit(changes)
            return .delivered(status: 201)
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async { await shutdown() }
}

extension SettlementExportChannel {
    /// The channel of an ERP connector `record` (its settings resolved in `resolved`) whose
    /// `export` is `export`, reaching the ERP under `policy`.
    static func open(
        _ record: ConnectorRecord, _ resolved: ResolvedConnector, export: SettlementExport, store: any WorkflowStore,
        policy: OutboundPolicy
    ) async throws -> SettlementExportChannel {
        if record.kind == ConnectorDefinition.Kind.oracle.rawValue {
            let fusion = try await OracleFusion.make(settings: resolved.settings, policy: policy)
            return SettlementExportChannel(
                store: store, connector: record, export: export, scrubber: resolved.scrubber,
                create: { invoice, key, logger in
                    try await OracleInvoices(fusion: fusion).createOnce(
                        try OracleInvoice(invoice, number: key), logger: logger)
                }, shutdown: { await fusion.shutdown() })
        }
        let client = try await SAPInvoiceClient.connect(settings: resolved.settings, policy: policy)
        return SettlementExportChannel(
            store: store, connector: record, export: export, scrubber: resolved.scrubber,
            create: { invoice, key, logger in
                try await client.createOnce(invoice, reference: key, logger: logger).objectValue ?? [:]
            }, shutdown: { await client.shutdown() })
    }
}
