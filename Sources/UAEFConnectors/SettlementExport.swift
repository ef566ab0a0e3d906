import Crypto
import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFStore

/// How an ERP connector turns a posted settlement into a document in the ERP: its `export`
/// setting maps UAEF's journal accounts to the ERP's.
///
/// As an invoice (`as: invoice`, the default), the account credited (the vendor payable) names
/// the supplier and each account debited becomes an item of the invoice (a G/L account item in
/// SAP, an invoice line with its distribution combination in Oracle), one per transfer. As a
/// journal (`as: journal`, Oracle only), each transfer becomes a debit and a credit line of one
/// balanced General Ledger journal, imported with Journal Import.
///
/// ```yaml
/// export:
///   company_code: "1010"                 # SAP; Oracle: business_unit and supplier_site
///   accounts:
///     "payable:acme": {supplier: "17300001"}
///     "expense:services": {account: "0061008000", cost_center: "0010101101", tax_code: V1}
/// ```
struct SettlementExport: Sendable, Equatable {
    /// The document a settlement becomes.
    enum Form: String, Sendable, CaseIterable {
        case invoice, journal
    }

    /// What one UAEF account is in the ERP.
    struct Mapping: Sendable, Equatable {
        /// The supplier (SAP invoicing party, Oracle supplier name) of a payable account.
        var supplier: String?
        /// The G/L account (SAP), distribution combination or journal line account (Oracle).
        var account: String?
        var costCenter: String?
        var taxCode: String?
    }

    var form: Form
    var header: [String: String]
    var accounts: [String: Mapping]
    /// How long a journal export waits before its first look at the import (then longer).
    var pollInterval: Duration

    /// The header settings a `form` of document needs in each ERP.
    static func headerKeys(_ kind: ConnectorDefinition.Kind, form: Form) -> (required: [String], optional: [String]) {
        switch (kind, form) {
        case (.oracle, .journal): (["ledger_id", "source", "category"], ["ledger_name", "data_access_set_id"])
        case (.oracle, _): (["business_unit", "supplier_site"], ["invoice_type"])
        default: (["company_code"], ["document_type"])
        }
    }

    /// The export `value` describes for a connector of `kind`, or what is wrong with it.
    static func parse(_ value: JSONValue, kind: ConnectorDefinition.Kind) -> Result<SettlementExport, Problem> {
        guard let members = value.objectValue else {
            return .failure(Problem(description: "expected {accounts: {...}, …}"))
        }
        let formText = members["as"]?.stringValue ?? Form.invoice.rawValue
        guard let form = Form(rawValue: formText), members["as"].map({ $0.stringValue != nil }) ?? true else {
            return .failure(Problem(description: "as must be invoice or journal"))
        }
        if form == .journal, kind != .oracle {
            return .failure(
                Problem(
                    description:
                        "as: journal is Oracle's (Journal Import); an sap connector exports settlements as supplier invoices with G/L account items"
                ))
        }
        let (required, optional) = headerKeys(kind, form: form)
        let extra = form == .journal ? ["poll_interval"] : []
        let allowed = Set(required + optional + extra + ["accounts", "as"])
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            return .failure(
                Problem(
                    description:
                        "\(unknown) is not a setting of an export as \(form.rawValue); valid: \(allowed.sorted().joined(separator: ", "))"
                ))
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
        var pollInterval = Duration.seconds(5)
        if let given = members["poll_interval"] {
            guard let duration = given.stringValue.flatMap(DurationText.parse), duration >= .milliseconds(50),
                duration <= .seconds(600)
            else { return .failure(Problem(description: "poll_interval must be a duration from 50ms to 10m")) }
            pollInterval = duration
        }
        let shape =
            form == .journal
            ? "{account: COMBINATION} such as {account: 01-000-2210-0000}"
            : "{supplier: ID} (a payable) or {account: ID, cost_center, tax_code} (an expense)"
        guard let list = members["accounts"]?.objectValue, (1...200).contains(list.count) else {
            return .failure(Problem(description: "accounts must map 1 to 200 UAEF account ids, each to \(shape)"))
        }
        var accounts: [String: Mapping] = [:]
        for (id, entry) in list {
            guard let fields = entry.objectValue, !fields.isEmpty,
                fields.values.allSatisfy({ $0.stringValue.map { (1...240).contains($0.utf16.count) } ?? false }),
                form == .journal
                    ? fields.keys.allSatisfy({ $0 == "account" })
                        && fields["account"]?.stringValue.flatMap(OracleJournal.segments(of:)) != nil
                    : fields.keys.allSatisfy(["supplier", "account", "cost_center", "tax_code"].contains)
                        && (fields["supplier"] == nil) != (fields["account"] == nil)
            else { return .failure(Problem(description: "accounts.\(id) must be \(shape)")) }
            accounts[id] = Mapping(
                supplier: fields["supplier"]?.stringValue, account: fields["account"]?.stringValue,
                costCenter: fields["cost_center"]?.stringValue, taxCode: fields["tax_code"]?.stringValue)
        }
        return .success(
            SettlementExport(form: form, header: header, accounts: accounts, pollInterval: pollInterval))
    }

    /// What went wrong turning a settlement into an invoice.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The key that finds `settlement`'s document again: `UAEF` and 12 hex digits of a digest of
    /// its tenant and id.
    static func businessKey(of settlement: SettlementRecord) -> String {
        let digest = SHA256.hash(data: Data("\(settlement.tenant)\u{0}\(settlement.id)".utf8))
        return "UAEF" + digest.prefix(6).map { String(format: "%02X", $0) }.joined()
    }

    /// The Oracle journal for `settlement`'s posted `transfers`: a debit and a credit line for
    /// each, on the accounts' mapped combinations, dated the settlement's day. Its batch and
    /// journal are named by the business key and its interface group is derived from it, so
    /// every delivery of the settlement sends the same file.
    func journal(for settlement: SettlementRecord, transfers: [TransferRecord]) throws(Problem) -> OracleJournal {
        let key = Self.businessKey(of: settlement)
        var lines: [JSONValue] = []
        for transfer in transfers where transfer.phase == .posted {
            for (side, account) in [("debit", transfer.debit), ("credit", transfer.credit)] {
                guard let combination = accounts[account]?.account else {
                    throw Problem(
                        description:
                            "account \(account) of settlement \(settlement.id) has no mapping in export.accounts")
                }
                var line: [String: JSONValue] = [
                    "account": .string(combination),
                    "description": .string(String("\(transfer.debit) to \(transfer.credit)".prefix(240))),
                ]
                line[side] = .string(transfer.amount.decimalText)
                lines.append(.object(line))
            }
        }
        guard !lines.isEmpty else { throw Problem(description: "settlement \(settlement.id) has no posted transfer") }
        var journal: [String: JSONValue] = [
            "currency": .string(settlement.amount.currency.code),
            "accounting_date": .string(String(Timestamp.format(settlement.updatedAt).prefix(10))),
            "description": .string(String("Settlement \(settlement.id)".prefix(240))), "lines": .array(lines),
        ]
        for (setting, value) in header { journal[setting] = .string(value) }
        do {
            return try OracleJournal(
                .object(journal), groupID: Int64(key.dropFirst(4), radix: 16).map { $0 % 1_000_000_000_000 + 1 } ?? 1,
                name: key)
        } catch {
            throw Problem(description: "the journal of settlement \(settlement.id): \(error)")
        }
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
        let key = Self.businessKey(of: settlement)
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

    func deliver(_ delivery: DeliveryRecord, event: EventRecord, logger: Logger) async -> DeliveryOutcome {
        guard event.event.type == "settlement.posted" else { return .delivered(status: nil) }
        do {
            let (settlement, transfers) = try await Self.settlement(of: event, connector: connector, store: store)
            let kind = ConnectorDefinition.Kind(rawValue: connector.kind) ?? .sap
            let (invoice, key) = try export.invoice(for: settlement, transfers: transfers, kind: kind)
            let document = try await create(invoice, key, logger)
            var changes = ChangeSet()
            changes.events = [
                Self.event(
                    "erp.document_created", data: document, delivery: delivery, connector: connector,
                    settlement: settlement)
            ]
            try await store.commit(changes)
            return .delivered(status: 201)
        } catch {
            return .failed(status: nil, error: scrubber.scrub("\(error)"), retryAfter: nil)
        }
    }

    func close() async { await shutdown() }

    /// The settlement `event` posted, with its transfers.
    static func settlement(of event: EventRecord, connector: ConnectorRecord, store: any WorkflowStore) async throws
        -> (SettlementRecord, [TransferRecord])
    {
        guard let (settlement, transfers, _) = try await store.settlement(event.event.subject, tenant: connector.tenant)
        else { throw SettlementExport.Problem(description: "settlement \(event.event.subject) not found") }
        return (settlement, transfers)
    }

    /// The ledger event `type` about `settlement`'s export by `connector`: `data` with the
    /// connector, its system and the delivery.
    static func event(
        _ type: String, data: [String: JSONValue], delivery: DeliveryRecord, connector: ConnectorRecord,
        settlement: SettlementRecord
    ) -> EventDraft {
        var data = data
        data["connector"] = .string(connector.name)
        data["system"] = .string(connector.kind)
        data["delivery"] = .string(delivery.id)
        let now = Date()
        var random = SystemRandomNumberGenerator()
        return EventDraft(
            id: "evt_" + SortableID.make(at: now, using: &random), time: now, type: type,
            actor: "connector:\(connector.name)", tenant: connector.tenant, subject: settlement.id, data: data)
    }
}

extension SettlementExportChannel {
    /// The channel of an ERP connector `record` (its settings resolved in `resolved`) whose
    /// `export` is `export`, reaching the ERP under `policy`: invoices in SAP or Oracle, or
    /// Oracle journals.
    static func open(
        _ record: ConnectorRecord, _ resolved: ResolvedConnector, export: SettlementExport, store: any WorkflowStore,
        policy: OutboundPolicy
    ) async throws -> any DeliveryChannel {
        if record.kind == ConnectorDefinition.Kind.oracle.rawValue {
            let fusion = try await OracleFusion.make(settings: resolved.settings, policy: policy)
            if export.form == .journal {
                return JournalExportChannel(
                    store: store, connector: record, export: export, scrubber: resolved.scrubber,
                    integrations: OracleIntegrations(fusion: fusion))
            }
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
