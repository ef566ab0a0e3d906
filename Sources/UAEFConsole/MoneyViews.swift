import Foundation
import UAEFCore

/// What the settlements page shows: the tenant's settlements, newest first, by status.
public struct SettlementsView: Sendable {
    /// One settlement in the list, or the settlement a page shows.
    public struct Row: Sendable {
        public var id: String
        public var rule: String
        public var status: String
        public var amount: String
        public var from: String
        public var to: String
        public var maker: String
        public var createdAt: String
        public var reason: String?

        /// The row of a settlement as the API reports it (`SettlementJSON.settlement`).
        public init(_ value: JSONValue) {
            id = value["id"]?.stringValue ?? ""
            rule = value["rule"]?.stringValue ?? ""
            status = value["status"]?.stringValue ?? ""
            amount = "\(value["amount"]?.stringValue ?? "") \(value["currency"]?.stringValue ?? "")"
            from = value["from"]?.stringValue ?? ""
            to = value["to"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
            maker = value["maker"]?.stringValue ?? ""
            createdAt = value["created_at"]?.stringValue ?? ""
            reason = value["reason"]?.stringValue
        }
    }

    public var statuses: [RunsView.StatusOption]
    public var settlements: [Row]
    public var caption: String
    /// The first page, when this is a later one.
    public var firstPage: String?
    /// The page of older settlements, when there are more.
    public var nextPage: String?

    /// A page of `settlements` (the API's objects, newest first) under the status filter
    /// `status` of `all`: up to `limit`, `older` than the newest, `next` the last of them when
    /// more follow.
    public init(settlements: [JSONValue], status: String?, all: [String], limit: Int, older: Bool, next: String?) {
        statuses = all.map { RunsView.StatusOption(value: $0, selected: $0 == status) }
        self.settlements = settlements.map(Row.init)
        let filter = status.map { "status=\($0)&" } ?? ""
        caption =
            "\(settlements.count) settlement\(settlements.count == 1 ? "" : "s"), \(older ? "older" : "newest first"), \(limit) a page"
        firstPage = older ? "/settlements" + (status.map { "?status=\($0)" } ?? "") : nil
        nextPage = next.map {
            "/settlements?\(filter)before=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }
    }
}

/// What a settlement's page shows: the settlement, how it was computed, its transfers in the
/// journal, the decisions on it, and the event (and run) that caused it.
public struct SettlementView: Sendable {
    /// A posting, a transfer or a decision, as a row of strings.
    public struct Line: Sendable {
        public var cells: [String]
    }

    public var settlement: SettlementsView.Row
    public var expiresAt: String?
    public var postings: [Line]
    public var transfers: [Line]
    public var decisions: [Line]
    /// The event the rule fired on, its type, and the run it belongs to (nil for a signal's).
    public var triggerSeq: Int
    public var triggerType: String
    public var run: String?
    public var ledgerLinks: Bool
    /// How the amount was computed (`exact`, `capped`, rounding), as JSON.
    public var computation: String

    /// The view of the API's settlement object with `detail`, `transfers` and `approvals`, and
    /// of `trigger`, the event it settled (nil when this principal cannot see it).
    public init(_ value: JSONValue, trigger: (type: String, subject: String)?, ledgerLinks: Bool) {
        settlement = SettlementsView.Row(value)
        expiresAt = value["expires_at"]?.stringValue
        let detail = value["detail"]
        postings = (detail?["postings"]?.arrayValue ?? []).map {
            Line(cells: [
                $0["debit"]?.stringValue ?? "", $0["credit"]?.stringValue ?? "", $0["amount"]?.stringValue ?? "",
            ])
        }
        transfers = (value["transfers"]?.arrayValue ?? []).map { transfer in
            Line(
                cells: ["id", "phase", "debit", "credit", "amount", "currency", "time"].map { key in
                    transfer[key].map { $0.stringValue ?? $0.jsonText } ?? ""
                })
        }
        decisions = (value["approvals"]?.arrayValue ?? []).map { decision in
            Line(
                cells: ["principal", "role", "decision", "reason", "time"].map { decision[$0]?.stringValue ?? "" })
        }
        triggerSeq = value["trigger_seq"]?.numberValue?.intValue ?? 0
        triggerType = trigger?.type ?? "—"
        run = trigger.flatMap { trigger in
            trigger.subject.hasPrefix("run_") ? String(trigger.subject.prefix { $0 != "/" }) : nil
        }
        self.ledgerLinks = ledgerLinks
        var shown = detail?.objectValue ?? [:]
        shown["postings"] = nil
        computation = JSONValue.object(shown).prettyJSONText
    }
}

/// What the accounts page shows: every account's balances and the trial balance.
public struct AccountsView: Sendable {
    /// One account.
    public struct Row: Sendable {
        public var id: String
        public var type: String
        public var currency: String
        public var posted: String
        public var pending: String
        public var available: String
        public var limit: String
    }

    public var accounts: [Row]
    /// Debits less credits over every account, posted and pending: zero when the journal balances.
    public var trialBalance: String
    public var balanced: Bool

    /// The view of the API's `{"accounts", "trial_balance_minor_units"}`.
    public init(_ value: JSONValue) {
        accounts = (value["accounts"]?.arrayValue ?? []).map { account in
            Row(
                id: account["id"]?.stringValue ?? "", type: account["type"]?.stringValue ?? "",
                currency: account["currency"]?.stringValue ?? "", posted: account["posted"]?.stringValue ?? "",
                pending: account["pending"]?.stringValue ?? "", available: account["available"]?.stringValue ?? "",
                limit: account["limit"]?.stringValue ?? "—")
        }
        let trial = value["trial_balance_minor_units"]
        trialBalance = trial.map(\.jsonText) ?? "?"
        balanced = trial?.numberValue?.intValue == 0
    }
}

/// What the journal page shows: transfers in the order they were booked, a page at a time.
public struct JournalView: Sendable {
    public var transfers: [SettlementView.Line]
    public var nextPage: String?
    public var firstPage: String?

    /// The view of the API's transfers from id `from`, `limit` a page (one more tells that
    /// another page follows).
    public init(transfers: [JSONValue], from: Int, limit: Int) {
        let shown = transfers.prefix(limit)
        self.transfers = shown.map { transfer in
            SettlementView.Line(
                cells: ["id", "settlement", "phase", "debit", "credit", "amount", "currency", "time"].map { key in
                    transfer[key].map { $0.stringValue ?? $0.jsonText } ?? ""
                })
        }
        let last = shown.last?["id"]?.numberValue?.intValue
        nextPage = transfers.count > limit ? last.map { "/journal?from=\($0 + 1)" } : nil
        firstPage = from > 1 ? "/journal" : nil
    }
}
