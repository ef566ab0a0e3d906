import Foundation
import UAEFCore

/// A journal for Oracle's Journal Import: checked, then written as the FBDI file
/// `GlInterface.csv` (the `GL_INTERFACE` sheet of `JournalImportTemplate.xlsm`: headerless,
/// 149 positional columns, days as `YYYY/MM/DD`) inside `GlInterface.zip`.
///
/// Column positions and formats are those of the template and its SQL*Loader control file (see
/// docs/erp-references/oracle.md §6): STATUS 0, LEDGER_ID 1, ACCOUNTING_DATE 2,
/// USER_JE_SOURCE_NAME 3, USER_JE_CATEGORY_NAME 4, CURRENCY_CODE 5, DATE_CREATED 6, ACTUAL_FLAG 7,
/// SEGMENT1–30 8–37, ENTERED_DR 38, ENTERED_CR 39, REFERENCE1 (batch name) 42, REFERENCE2 (batch
/// description) 43, REFERENCE4 (journal name) 45, REFERENCE5 (journal description) 46,
/// REFERENCE10 (line description) 51, GROUP_ID 66, LEDGER_NAME 91.
struct OracleJournal: Sendable, Equatable {
    struct Line: Sendable, Equatable {
        var segments: [String]
        var debit: String?
        var credit: String?
        var description: String
    }

    var ledgerID: String
    var ledgerName: String?
    var source: String
    var category: String
    var currency: Currency
    /// `yyyy-MM-dd`.
    var accountingDate: String
    var batchName: String
    var journalName: String
    var description: String
    /// The interface group: Journal Import takes this group's lines only.
    var groupID: Int64
    /// The data access set for the `ParameterList`; nil sends `#NULL`.
    var dataAccessSetID: String?
    var lines: [Line]

    static let columnCount = 149
    static let maximumLines = 10_000

    /// The journal `value` describes; `groupID` and `name` are used when it gives none.
    init(_ value: JSONValue, groupID derivedGroup: Int64, name derivedName: String) throws(ERPDocumentProblems) {
        guard let members = value.objectValue else {
            throw ERPDocumentProblems(["journal: expected an object (ledger, source, category, currency, lines, …)"])
        }
        var problems: [String] = []
        let known: Set = [
            "ledger_id", "ledger_name", "source", "category", "currency", "accounting_date", "batch_name",
            "journal_name", "description", "group_id", "data_access_set_id", "lines",
        ]
        for key in members.keys.sorted() where !known.contains(key) {
            problems.append("journal.\(key): not a journal setting; valid: \(known.sorted().joined(separator: ", "))")
        }
        func text(_ key: String, max: Int, required: Bool = false) -> String? {
            guard let member = members[key] else {
                if required { problems.append("journal.\(key): required") }
                return nil
            }
            guard let text = member.stringValue, !text.isEmpty, text.utf16.count <= max,
                !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                problems.append("journal.\(key): expected text of 1 to \(max) characters without line breaks")
                return nil
            }
            return text
        }
        func digits(_ key: String) -> String? {
            guard let member = members[key] else { return nil }
            let text = member.stringValue ?? member.numberValue.map { "\($0)" } ?? ""
            guard (1...18).contains(text.count), text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else {
                problems.append("journal.\(key): expected an Oracle id of 1 to 18 digits")
                return nil
            }
            return text
        }
        // Journal Import's ParameterList names the ledger by id; the file may add its name.
        if members["ledger_id"] == nil { problems.append("journal.ledger_id: required (the ledger's id in Oracle)") }
        ledgerID = digits("ledger_id") ?? ""
        ledgerName = text("ledger_name", max: 30)
        source = text("source", max: 25, required: true) ?? ""
        category = text("category", max: 25, required: true) ?? ""
        let code = text("currency", max: 15, required: true)
        let currency = code.flatMap { Currency(code: $0) }
        if let code, currency == nil {
            problems.append("journal.currency: \(code.prefix(8).debugDescription) is not an ISO 4217 code")
        }
        self.currency = currency ?? Currency(code: "USD")!
        accountingDate = text("accounting_date", max: 10, required: true) ?? ""
        if !accountingDate.isEmpty, ODataV2.date(accountingDate) == nil {
            problems.append("journal.accounting_date: expected a day as yyyy-MM-dd")
        }
        batchName = text("batch_name", max: 100) ?? derivedName
        journalName = text("journal_name", max: 100) ?? derivedName
        description = text("description", max: 240) ?? ""
        groupID = digits("group_id").flatMap { Int64($0) } ?? derivedGroup
        dataAccessSetID = digits("data_access_set_id")
        for (field, text) in [("source", source), ("category", category), ("batch_name", batchName)]
        where text.contains(",") {
            problems.append(
                "journal.\(field): may not hold a comma (the ParameterList and the file are comma-separated)")
        }
        lines = []
        let list = members["lines"]?.arrayValue ?? []
        if !(1...Self.maximumLines).contains(list.count) {
            problems.append("journal.lines: expected a list of 1 to \(Self.maximumLines) lines")
        }
        var debits = Number(0)
        var credits = Number(0)
        for (index, entry) in list.enumerated() {
            let path = "journal.lines[\(index)]"
            guard let line = entry.objectValue else {
                problems.append("\(path): expected {account, debit or credit, description}")
                continue
            }
            let segments = line["account"]?.stringValue.flatMap(Self.segments(of:))
            if segments == nil {
                problems.append(
                    "\(path).account: expected 1 to 30 segments of 1 to 25 characters joined by -, such as 01-200-4100-0000"
                )
            }
            var amounts: [String: Number] = [:]
            for side in ["debit", "credit"] {
                guard let given = line[side] else { continue }
                switch ERPSchema.encode(
                    given, as: .decimal(precision: 22, scale: 4, amount: true), currency: currency, wire: Self.wire)
                {
                case .success(let encoded):
                    if let number = encoded.stringValue.flatMap({ Number(parsing: $0) }), number > Number(0) {
                        amounts[side] = number
                    } else {
                        problems.append("\(path).\(side): expected an amount above zero")
                    }
                case .failure(let problem): problems.append("\(path).\(side): \(problem.text)")
                }
            }
            if (line["debit"] == nil) == (line["credit"] == nil) {
                problems.append("\(path): give debit or credit, one of them")
            }
            let description = line["description"]?.stringValue ?? ""
            if description.utf16.count > 240 { problems.append("\(path).description: at most 240 characters") }
            for key in line.keys.sorted() where !["account", "debit", "credit", "description"].contains(key) {
                problems.append("\(path).\(key): not a line setting; valid: account, debit, credit, description")
            }
            do {
                if let debit = amounts["debit"] { debits = try debits + debit }
                if let credit = amounts["credit"] { credits = try credits + credit }
            } catch {
                problems.append("\(path): the journal's total overflows")
            }
            lines.append(
                Line(
                    segments: segments ?? [],
                    debit: amounts["debit"].flatMap { ERPSchema.fixed($0, decimals: self.currency.minorUnitDigits) },
                    credit: amounts["credit"].flatMap { ERPSchema.fixed($0, decimals: self.currency.minorUnitDigits) },
                    description: description))
        }
        if problems.isEmpty, debits != credits {
            problems.append("journal.lines: debits (\(debits)) and credits (\(credits)) differ; a journal must balance")
        }
        guard problems.isEmpty else { throw ERPDocumentProblems(problems) }
    }

    /// The segments of an account combination such as `01-200-4100-0000` (1 to 30 segments of 1
    /// to 25 characters, no commas), or nil when `account` is not one.
    static func segments(of account: String) -> [String]? {
        let segments = account.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard !account.isEmpty, segments.count <= 30,
            !segments.contains(where: { $0.isEmpty || $0.utf16.count > 25 || $0.contains(",") })
        else { return nil }
        return segments
    }

    /// Oracle's forms: amounts as text with the currency's decimals.
    static let wire = ERPSchema.Wire(
        system: "Oracle", currencyProperty: "currency", date: { ODataV2.date($0) == nil ? nil : $0 },
        collection: { .array($0) }, decimal: { "NUMBER(\($0),\($1))" }, numberHint: "")

    /// `GlInterface.csv`: one row of 149 columns per line, created on `today` (`yyyy-MM-dd`).
    func csv(today: String) -> String {
        func day(_ text: String) -> String { text.replacingOccurrences(of: "-", with: "/") }
        var rows: [String] = []
        for line in lines {
            var row = Array(repeating: "", count: Self.columnCount)
            row[0] = "NEW"
            row[1] = ledgerID
            row[2] = day(accountingDate)
            row[3] = source
            row[4] = category
            row[5] = currency.code
            row[6] = day(today)
            row[7] = "A"
            for (index, segment) in line.segments.enumerated() { row[8 + index] = segment }
            row[38] = line.debit ?? ""
            row[39] = line.credit ?? ""
            row[42] = batchName
            row[45] = journalName
            row[46] = description
            row[51] = line.description
            row[66] = String(groupID)
            row[91] = ledgerName ?? ""
            rows.append(row.map(Self.field).joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted when it holds a comma, quote or line break.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Journal Import's `ParameterList`: data access set, source, ledger, group, post errors to
    /// suspense, create summary journals, import descriptive flexfields.
    var parameterList: String {
        [dataAccessSetID ?? "#NULL", source, ledgerID, String(groupID), "N", "N", "N"].joined(separator: ",")
    }
}
