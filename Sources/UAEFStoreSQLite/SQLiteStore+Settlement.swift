import Foundation
import GRDB
import UAEFCore
import UAEFStore

extension SQLiteStore {
    public func settle<Result: Sendable>(
        tenant: String, now: Date, _ body: @escaping @Sendable (any SettlementTransaction) throws -> Result
    ) async throws -> Result {
        try await pool.write { db in try body(SQLiteSettlementTransaction(db: db, tenant: tenant, now: now)) }
    }

    public func activeRuleSet(tenant: String) async throws -> RuleSetRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM rule_sets WHERE tenant = ? ORDER BY version DESC LIMIT 1", arguments: [tenant]
            ).map { row in
                RuleSetRecord(
                    version: row["version"], file: row["file"], source: row["source"],
                    loadedAt: Timestamp.date(milliseconds: row["loaded_at"]))
            }
        }
    }

    public func accounts(tenant: String) async throws -> [AccountRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM accounts WHERE tenant = ? ORDER BY id", arguments: [tenant])
                .map(Self.account)
        }
    }

    public func settlements(tenant: String, status: SettlementStatus?, before: String?, limit: Int) async throws
        -> [SettlementRecord]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM settlements WHERE tenant = ? AND (? IS NULL OR status = ?)
                        AND (? IS NULL OR (created_at, id)
                            < (SELECT created_at, id FROM settlements WHERE tenant = ? AND id = ?))
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """,
                arguments: [tenant, status?.rawValue, status?.rawValue, before, tenant, before, limit]
            ).map(Self.settlement)
        }
    }

    public func settlement(_ id: String, tenant: String) async throws -> (
        SettlementRecord, [TransferRecord], [ApprovalRecord]
    )? {
        try await pool.read { db in
            let transaction = SQLiteSettlementTransaction(db: db, tenant: tenant, now: Date())
            guard let settlement = try transaction.settlement(id) else { return nil }
            return (settlement, try transaction.transfers(settlement: id), try transaction.approvals(settlement: id))
        }
    }

    public func taskApprovals(tenant: String, status: TaskApprovalRecord.Status?) async throws -> [TaskApprovalRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM task_approvals WHERE tenant = ? AND (? IS NULL OR status = ?)
                    ORDER BY created_at DESC, id DESC
                    """,
                arguments: [tenant, status?.rawValue, status?.rawValue]
            ).map(Self.taskApproval)
        }
    }

    public func taskApproval(_ id: String, tenant: String) async throws -> TaskApprovalRecord? {
        try await pool.read { db in
            try SQLiteSettlementTransaction(db: db, tenant: tenant, now: Date()).taskApproval(id)
        }
    }

    public func decisions(on id: String) async throws -> [ApprovalRecord] {
        try await pool.read { db in
            try SQLiteSettlementTransaction(db: db, tenant: "", now: Date()).approvals(settlement: id)
        }
    }

    static func taskApproval(_ row: Row) throws -> TaskApprovalRecord {
        let id: String = row["id"]
        guard let status = TaskApprovalRecord.Status(rawValue: row["status"]) else {
            throw StoreCorruption(location: "task_approvals", reason: "approval \(id) has an unknown status")
        }
        return TaskApprovalRecord(
            id: id, tenant: row["tenant"], runID: RunID(row["run_id"]), key: row["key"], attemptKey: row["attempt_key"],
            role: row["role"], approvers: row["approvers"], message: row["message"], maker: row["maker"],
            status: status, reason: row["reason"], createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]))
    }

    public func settlements(tenant: String, triggerSeq: Int64) async throws -> [SettlementRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM settlements WHERE tenant = ? AND trigger_seq = ? ORDER BY rule_id",
                arguments: [tenant, triggerSeq]
            ).map(Self.settlement)
        }
    }

    public func transfers(tenant: String, from id: Int64, limit: Int) async throws -> [TransferRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM transfers WHERE tenant = ? AND id >= ? ORDER BY id LIMIT ?",
                arguments: [tenant, id, limit]
            ).map(Self.transfer)
        }
    }

    static func account(_ row: Row) throws -> AccountRecord {
        let id: String = row["id"]
        guard let kind = AccountDefinition.Kind(rawValue: row["kind"]), let currency = Currency(code: row["currency"])
        else { throw StoreCorruption(location: "accounts", reason: "account \(id) has an unknown type or currency") }
        return AccountRecord(
            tenant: row["tenant"],
            definition: AccountDefinition(
                id: id, kind: kind, currency: currency,
                limit: (row["limit_flag"] as String?).flatMap(AccountDefinition.Limit.init(rawValue:))),
            balance: AccountBalance(
                debitsPosted: row["debits_posted"], creditsPosted: row["credits_posted"],
                debitsPending: row["debits_pending"], creditsPending: row["credits_pending"]))
    }

    static func settlement(_ row: Row) throws -> SettlementRecord {
        let id: String = row["id"]
        guard let status = SettlementStatus(rawValue: row["status"]), let currency = Currency(code: row["currency"])
        else {
            throw StoreCorruption(location: "settlements", reason: "settlement \(id) has an unknown status or currency")
        }
        let detail: JSONValue
        do { detail = try JSONValue(jsonText: row["detail"] as String) } catch {
            throw StoreCorruption(location: "settlements.detail", reason: error.description)
        }
        return SettlementRecord(
            id: id, tenant: row["tenant"], ruleID: row["rule_id"], triggerSeq: row["trigger_seq"], status: status,
            amount: Money(minorUnits: row["amount"], currency: currency), maker: row["maker"], detail: detail,
            reason: row["reason"], createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"]),
            expiresAt: (row["expires_at"] as Int64?).map { Timestamp.date(milliseconds: $0) })
    }

    static func transfer(_ row: Row) throws -> TransferRecord {
        guard let phase = TransferPhase(rawValue: row["phase"]), let currency = Currency(code: row["currency"]) else {
            throw StoreCorruption(location: "transfers", reason: "transfer \(row["id"] as Int64) is unreadable")
        }
        return TransferRecord(
            id: row["id"], tenant: row["tenant"], settlementID: row["settlement_id"], debit: row["debit_account"],
            credit: row["credit_account"], amount: Money(minorUnits: row["amount"], currency: currency),
            phase: phase, pendingID: row["pending_id"], createdAt: Timestamp.date(milliseconds: row["created_at"]))
    }
}

/// Settlement reads and writes inside one GRDB write transaction.
struct SQLiteSettlementTransaction: SettlementTransaction {
    let db: Database
    let tenant: String
    let now: Date

    func cursor() throws -> Int64 {
        try Int64.fetchOne(
            try db.cachedStatement(sql: "SELECT next_seq FROM settlement_cursors WHERE tenant = ?"), arguments: [tenant]
        )
            ?? 0
    }

    func setCursor(_ seq: Int64) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO settlement_cursors (tenant, next_seq) VALUES (?, ?)
                ON CONFLICT (tenant) DO UPDATE SET next_seq = excluded.next_seq
                """
        ).execute(arguments: [tenant, seq])
    }

    func account(_ id: String) throws -> AccountRecord? {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM accounts WHERE tenant = ? AND id = ?"), arguments: [tenant, id]
        )
        .map(SQLiteStore.account)
    }

    func saveAccount(_ account: AccountRecord) throws {
        let balance = account.balance
        try db.cachedStatement(
            sql: """
                INSERT INTO accounts (tenant, id, kind, currency, limit_flag, debits_posted, credits_posted,
                    debits_pending, credits_pending)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, limit_flag = excluded.limit_flag,
                    debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
                    debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending
                """
        ).execute(arguments: [
            tenant, account.definition.id, account.definition.kind.rawValue, account.definition.currency.code,
            account.definition.limit?.rawValue, balance.debitsPosted, balance.creditsPosted,
            balance.debitsPending, balance.creditsPending,
        ])
    }

    func settlement(_ id: String) throws -> SettlementRecord? {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM settlements WHERE id = ? AND tenant = ?"),
            arguments: [id, tenant]
        )
        .map(SQLiteStore.settlement)
    }

    func settlementExists(rule: String, triggerSeq: Int64) throws -> Bool {
        try Bool.fetchOne(
            try db.cachedStatement(
                sql: "SELECT 1 FROM settlements WHERE tenant = ? AND rule_id = ? AND trigger_seq = ?"),
            arguments: [tenant, rule, triggerSeq]) ?? false
    }

    func saveSettlement(_ settlement: SettlementRecord) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO settlements (id, tenant, rule_id, trigger_seq, status, amount, currency, maker, detail,
                    reason, created_at, updated_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                    updated_at = excluded.updated_at
                """
        ).execute(arguments: [
            settlement.id, tenant, settlement.ruleID, settlement.triggerSeq, settlement.status.rawValue,
            settlement.amount.minorUnits, settlement.amount.currency.code, settlement.maker,
            settlement.detail.jsonText, settlement.reason, Timestamp.milliseconds(settlement.createdAt),
            Timestamp.milliseconds(settlement.updatedAt), settlement.expiresAt.map(Timestamp.milliseconds),
        ])
    }

    func transfers(settlement: String) throws -> [TransferRecord] {
        try Row.fetchAll(
            try db.cachedStatement(sql: "SELECT * FROM transfers WHERE settlement_id = ? AND tenant = ? ORDER BY id"),
            arguments: [settlement, tenant]
        ).map(SQLiteStore.transfer)
    }

    @discardableResult func appendTransfer(_ transfer: TransferRecord) throws -> TransferRecord {
        try db.cachedStatement(
            sql: """
                INSERT INTO transfers (tenant, settlement_id, debit_account, credit_account, amount, currency, phase,
                    pending_id, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            tenant, transfer.settlementID, transfer.debit, transfer.credit, transfer.amount.minorUnits,
            transfer.amount.currency.code, transfer.phase.rawValue, transfer.pendingID,
            Timestamp.milliseconds(transfer.createdAt),
        ])
        var stored = transfer
        stored.id = db.lastInsertedRowID
        return stored
    }

    func approvals(settlement: String) throws -> [ApprovalRecord] {
        try Row.fetchAll(
            try db.cachedStatement(sql: "SELECT * FROM approvals WHERE settlement_id = ? ORDER BY time, principal"),
            arguments: [settlement]
        ).map { row in
            ApprovalRecord(
                settlementID: row["settlement_id"], principal: row["principal"], role: row["role"],
                decision: ApprovalRecord.Decision(rawValue: row["decision"]) ?? .reject, reason: row["reason"],
                time: Timestamp.date(milliseconds: row["time"]))
        }
    }

    func saveApproval(_ approval: ApprovalRecord) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO approvals (settlement_id, principal, role, decision, reason, time)
                VALUES (?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            approval.settlementID, approval.principal, approval.role, approval.decision.rawValue, approval.reason,
            Timestamp.milliseconds(approval.time),
        ])
    }

    func expiredApprovals() throws -> [SettlementRecord] {
        try Row.fetchAll(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM settlements WHERE tenant = ? AND status = 'pending_approval'
                    AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id
                    """),
            arguments: [tenant, Timestamp.milliseconds(now)]
        ).map(SQLiteStore.settlement)
    }

    func saveRuleSet(file: String, source: String) throws -> Int {
        let version =
            (try Int.fetchOne(
                try db.cachedStatement(sql: "SELECT MAX(version) FROM rule_sets WHERE tenant = ?"), arguments: [tenant])
                ?? 0)
            + 1
        try db.cachedStatement(
            sql: "INSERT INTO rule_sets (tenant, version, file, source, loaded_at) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [tenant, version, file, source, Timestamp.milliseconds(now)])
        return version
    }

    func taskApproval(attemptKey: String) throws -> TaskApprovalRecord? {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM task_approvals WHERE tenant = ? AND attempt_key = ?"),
            arguments: [tenant, attemptKey]
        ).map(SQLiteStore.taskApproval)
    }

    func taskApproval(_ id: String) throws -> TaskApprovalRecord? {
        try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT * FROM task_approvals WHERE tenant = ? AND id = ?"),
            arguments: [tenant, id]
        ).map(SQLiteStore.taskApproval)
    }

    func saveTaskApproval(_ approval: TaskApprovalRecord) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO task_approvals (id, tenant, run_id, key, attempt_key, role, approvers, message, maker,
                    status, reason, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                    updated_at = excluded.updated_at
                """
        ).execute(arguments: [
            approval.id, tenant, approval.runID.rawValue, approval.key, approval.attemptKey, approval.role,
            approval.approvers, approval.message, approval.maker, approval.status.rawValue, approval.reason,
            Timestamp.milliseconds(approval.createdAt), Timestamp.milliseconds(approval.updatedAt),
        ])
    }

    func signal(idempotencyKey: String) throws -> SignalRecord? {
        try Row.fetchOne(
            try db.cachedStatement(
                sql: "SELECT name, sha256, event_seq FROM signals WHERE tenant = ? AND idempotency_key = ?"),
            arguments: [tenant, idempotencyKey]
        ).map { SignalRecord(name: $0["name"], sha256: $0["sha256"], seq: $0["event_seq"]) }
    }

    func appendSignal(_ event: EventDraft, idempotencyKey: String, name: String, sha256: String) throws {
        let seq = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq) + 1, 0) FROM events") ?? 0
        try SQLiteStore.appendEvents([event], in: db)
        try db.cachedStatement(
            sql: "INSERT INTO signals (tenant, idempotency_key, name, sha256, event_seq) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [tenant, idempotencyKey, name, sha256, seq])
    }

    func append(_ events: [EventDraft]) throws {
        try SQLiteStore.appendEvents(events, in: db)
    }
}
