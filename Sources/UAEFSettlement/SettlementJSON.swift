import UAEFCore
import UAEFEngine
import UAEFStore

/// The JSON shapes of settlements, journal transfers, approvals and accounts, shared by the
/// CLI's `--json` and the HTTP API.
public enum SettlementJSON {
    /// `{"id", "rule", "status", "amount", "currency", "trigger_seq", "maker", "from", "to",
    /// "reason", "created_at", "expires_at"}`.
    public static func settlement(_ settlement: SettlementRecord) -> JSONValue {
        [
            "id": .string(settlement.id), "rule": .string(settlement.ruleID),
            "status": .string(settlement.status.rawValue),
            "amount": .string(settlement.amount.decimalText), "currency": .string(settlement.amount.currency.code),
            "trigger_seq": .number(Number(Int(settlement.triggerSeq))), "maker": .string(settlement.maker),
            "from": settlement.detail["postings"]?.arrayValue?.first?["debit"] ?? .null,
            "to": .array((settlement.detail["postings"]?.arrayValue ?? []).compactMap { $0["credit"] }),
            "reason": settlement.reason.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.format(settlement.createdAt)),
            "expires_at": settlement.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }

    /// All debits less all credits, posted and pending: zero when the journal is consistent.
    /// Summed wider than a balance, so no total of stored balances can overflow.
    public static func trialBalance(_ accounts: [AccountRecord]) -> Int128 {
        accounts.reduce(Int128(0)) { $0 + $1.balance.net }
    }

    /// `{"id", "settlement", "debit", "credit", "amount", "currency", "phase", "pending_id", "time"}`;
    /// `pending_id` names the pending transfer a post or void resolves (else null).
    public static func transfer(_ transfer: TransferRecord) -> JSONValue {
        [
            "id": .number(Number(Int(transfer.id))), "settlement": .string(transfer.settlementID),
            "debit": .string(transfer.debit), "credit": .string(transfer.credit),
            "amount": .string(transfer.amount.decimalText), "currency": .string(transfer.amount.currency.code),
            "phase": .string(transfer.phase.rawValue),
            "pending_id": transfer.pendingID.map { .number(Number(Int($0))) } ?? .null,
            "time": .string(Timestamp.format(transfer.createdAt)),
        ]
    }

    /// A decision: `{"principal", "role", "decision", "reason", "time"}`.
    public static func approval(_ decision: ApprovalRecord) -> JSONValue {
        [
            "principal": .string(decision.principal), "role": .string(decision.role),
            "decision": .string(decision.decision.rawValue), "reason": decision.reason.map(JSONValue.string) ?? .null,
            "time": .string(Timestamp.format(decision.time)),
        ]
    }

    /// A workflow task waiting for approval: `{"id", "kind": "task", "run_id", "task", "role",
    /// "approvers", "message", "maker", "status", "reason", "created_at"}`.
    public static func approval(_ approval: TaskApprovalRecord) -> JSONValue {
        [
            "id": .string(approval.id), "kind": "task", "run_id": .string(approval.runID.rawValue),
            "task": .string(approval.key), "role": .string(approval.role),
            "approvers": .number(Number(approval.approvers)), "message": .string(approval.message),
            "maker": .string(approval.maker), "status": .string(approval.status.rawValue),
            "reason": approval.reason.map(JSONValue.string) ?? .null,
            "created_at": .string(Timestamp.format(approval.createdAt)),
        ]
    }

    /// `{"accounts": [{"id", "type", "currency", "limit", "posted", "pending", "available"}],
    /// "trial_balance_minor_units"}`, balances in each account's normal direction.
    public static func accounts(_ accounts: [AccountRecord]) -> JSONValue {
        [
            "accounts": .array(
                accounts.map { account in
                    let kind = account.definition.kind
                    let money = { (units: Int128) in
                        JSONValue.string(Money.decimalText(minorUnits: units, currency: account.definition.currency))
                    }
                    return [
                        "id": .string(account.definition.id), "type": .string(kind.rawValue),
                        "currency": .string(account.definition.currency.code),
                        "limit": account.definition.limit.map { .string($0.rawValue) } ?? .null,
                        "posted": money(account.balance.posted(kind)),
                        "pending": money(account.balance.pending(kind)),
                        "available": money(account.balance.available(kind)),
                    ]
                }),
            "trial_balance_minor_units": .number(Number(parsing: String(trialBalance(accounts))) ?? Number(0)),
        ]
    }
}
