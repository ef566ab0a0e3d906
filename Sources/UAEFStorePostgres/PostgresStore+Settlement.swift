import Dispatch
import Foundation
import Logging
import NIOPosix
import PostgresNIO
import UAEFCore
import UAEFSettlement
import UAEFStore

extension PostgresStore {
    /// Runs `body` in one transaction. The settlement steps are synchronous (SQLite's transactions
    /// are), so the body runs on a thread of NIO's blocking pool and each of its statements waits
    /// there for the connection, never blocking a Swift concurrency thread.
    public func settle<Result: Sendable>(
        tenant: String, now: Date, _ body: @escaping @Sendable (any SettlementTransaction) throws -> Result
    ) async throws -> Result {
        try await transaction { connection in
            // One settlement transaction per tenant at a time, as SQLite's single writer gives:
            // balances are read, checked against limits and written back, and the cursor is
            // compared and set, so two nodes must not interleave.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.settlementLockClass), hashtext(\(tenant)))", logger: logger)
            let transaction = PostgresSettlementTransaction(
                connection: connection, tenant: tenant, now: now, logger: logger)
            return try await NIOThreadPool.singleton.runIfActive { try body(transaction) }
        }
    }

    /// The first key of the per-tenant settlement locks (the second is the tenant's hash).
    static let settlementLockClass: Int32 = 0x7561_6566  // "uaef"

    public func activeRuleSet(tenant: String) async throws -> RuleSetRecord? {
        try await rows(
            "SELECT version, file, source, loaded_at FROM rule_sets WHERE tenant = \(tenant) ORDER BY version DESC LIMIT 1"
        ) { row in
            let c = Columns(row, table: "rule_sets")
            return RuleSetRecord(
                version: try c("version"), file: try c("file"), source: try c("source"),
                loadedAt: try c.date("loaded_at"))
        }.first
    }

    public func accounts(tenant: String) async throws -> [AccountRecord] {
        try await rows("SELECT * FROM accounts WHERE tenant = \(tenant) ORDER BY id", Self.account)
    }

    public func settlements(tenant: String, status: SettlementStatus?, limit: Int) async throws -> [SettlementRecord] {
        try await rows(
            """
            SELECT * FROM settlements WHERE tenant = \(tenant)
                AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """, Self.settlement)
    }

    public func settlement(_ id: String, tenant: String) async throws -> (
        SettlementRecord, [TransferRecord], [ApprovalRecord]
    )? {
        guard
            let settlement = try await rows(
                "SELECT * FROM settlements WHERE id = \(id) AND tenant = \(tenant)", Self.settlement
            ).first
        else { return nil }
        let transfers = try await rows(
            "SELECT * FROM transfers WHERE settlement_id = \(id) AND tenant = \(tenant) ORDER BY id", Self.transfer)
        return (settlement, transfers, try await decisions(on: id))
    }

    public func taskApproval(_ id: String, tenant: String) async throws -> TaskApprovalRecord? {
        try await rows("SELECT * FROM task_approvals WHERE tenant = \(tenant) AND id = \(id)", Self.taskApproval).first
    }

    public func decisions(on id: String) async throws -> [ApprovalRecord] {
        try await rows("SELECT * FROM approvals WHERE settlement_id = \(id) ORDER BY time, principal", Self.approval)
    }

    public func taskApprovals(tenant: String, status: TaskApprovalRecord.Status?) async throws -> [TaskApprovalRecord] {
        try await rows(
            """
            SELECT * FROM task_approvals WHERE tenant = \(tenant)
                AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
            ORDER BY created_at DESC, id DESC
            """, Self.taskApproval)
    }

    public func settlements(tenant: String, triggerSeq: Int64) async throws -> [SettlementRecord] {
        try await rows(
            "SELECT * FROM settlements WHERE tenant = \(tenant) AND trigger_seq = \(triggerSeq) ORDER BY rule_id",
            Self.settlement)
    }

    public func transfers(tenant: String, from id: Int64, limit: Int) async throws -> [TransferRecord] {
        try await rows(
            "SELECT * FROM transfers WHERE tenant = \(tenant) AND id >= \(id) ORDER BY id LIMIT \(limit)",
            Self.transfer)
    }

    static func account(_ row: PostgresRow) throws -> AccountRecord {
        let c = Columns(row, table: "accounts")
        let id: String = try c("id")
        guard let kind = AccountDefinition.Kind(rawValue: try c("kind")),
            let currency = Currency(code: try c("currency"))
        else { throw StoreCorruption(location: "accounts", reason: "account \(id) has an unknown type or currency") }
        return AccountRecord(
            tenant: try c("tenant"),
            definition: AccountDefinition(
                id: id, kind: kind, currency: currency,
                limit: try c("limit_flag", as: String?.self).flatMap(AccountDefinition.Limit.init(rawValue:))),
            balance: AccountBalance(
                debitsPosted: try c("debits_posted"), creditsPosted: try c("credits_posted"),
                debitsPending: try c("debits_pending"), creditsPending: try c("credits_pending")))
    }

    static func settlement(_ row: PostgresRow) throws -> SettlementRecord {
        let c = Columns(row, table: "settlements")
        let id: String = try c("id")
        guard let currency = Currency(code: try c("currency")), let detail = try c.json("detail") else {
            throw StoreCorruption(location: "settlements", reason: "settlement \(id) has an unknown currency")
        }
        return SettlementRecord(
            id: id, tenant: try c("tenant"), ruleID: try c("rule_id"), triggerSeq: try c("trigger_seq"),
            status: try c.enumValue("status"), amount: Money(minorUnits: try c("amount"), currency: currency),
            maker: try c("maker"), detail: detail, reason: try c("reason"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"), expiresAt: try c.optionalDate("expires_at"))
    }

    static func transfer(_ row: PostgresRow) throws -> TransferRecord {
        let c = Columns(row, table: "transfers")
        guard let currency = Currency(code: try c("currency")) else {
            throw StoreCorruption(location: "transfers.currency", reason: "unknown currency")
        }
        return TransferRecord(
            id: try c("id"), tenant: try c("tenant"), settlementID: try c("settlement_id"),
            debit: try c("debit_account"), credit: try c("credit_account"),
            amount: Money(minorUnits: try c("amount"), currency: currency), phase: try c.enumValue("phase"),
            pendingID: try c("pending_id"), createdAt: try c.date("created_at"))
    }

    static func approval(_ row: PostgresRow) throws -> ApprovalRecord {
        let c = Columns(row, table: "approvals")
        return ApprovalRecord(
            settlementID: try c("settlement_id"), principal: try c("principal"), role: try c("role"),
            decision: try c.enumValue("decision"), reason: try c("reason"), time: try c.date("time"))
    }

    static func taskApproval(_ row: PostgresRow) throws -> TaskApprovalRecord {
        let c = Columns(row, table: "task_approvals")
        return TaskApprovalRecord(
            id: try c("id"), tenant: try c("tenant"), runID: RunID(try c("run_id")), key: try c("key"),
            attemptKey: try c("attempt_key"), role: try c("role"), approvers: try c("approvers"),
            message: try c("message"), maker: try c("maker"), status: try c.enumValue("status"),
            reason: try c("reason"), createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"))
    }
}

/// Settlement reads and writes inside one PostgreSQL transaction, called from a blocking-pool
/// thread: each statement runs on the connection and the thread waits for its rows.
struct PostgresSettlementTransaction: SettlementTransaction, Sendable {
    let connection: PostgresConnection
    let tenant: String
    let now: Date
    let logger: Logger

    /// Runs `operation` to completion and returns its result, blocking this (non-async) thread.
    private func wait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                outcome.result = .success(try await operation())
            } catch {
                outcome.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return try outcome.result!.get()
    }

    /// A result handed from the task to the waiting thread; the semaphore orders the two accesses.
    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }

    private func rows<T: Sendable>(_ query: PostgresQuery, _ transform: @escaping @Sendable (PostgresRow) throws -> T)
        throws -> [T]
    {
        try wait { [connection, logger] in
            var result: [T] = []
            for try await row in try await connection.query(query, logger: logger) { result.append(try transform(row)) }
            return result
        }
    }

    private func execute(_ query: PostgresQuery) throws {
        try wait { [connection, logger] in _ = try await connection.query(query, logger: logger) }
    }

    func cursor() throws -> Int64 {
        try rows("SELECT next_seq FROM settlement_cursors WHERE tenant = \(tenant)") { try $0.decode(Int64.self) }
            .first ?? 0
    }

    func setCursor(_ seq: Int64) throws {
        try execute(
            """
            INSERT INTO settlement_cursors (tenant, next_seq) VALUES (\(tenant), \(seq))
            ON CONFLICT (tenant) DO UPDATE SET next_seq = excluded.next_seq
            """)
    }

    func account(_ id: String) throws -> AccountRecord? {
        try rows("SELECT * FROM accounts WHERE tenant = \(tenant) AND id = \(id)", PostgresStore.account).first
    }

    func saveAccount(_ account: AccountRecord) throws {
        let definition = account.definition
        let balance = account.balance
        try execute(
            """
            INSERT INTO accounts (tenant, id, kind, currency, limit_flag, debits_posted, credits_posted,
                debits_pending, credits_pending)
            VALUES (\(tenant), \(definition.id), \(definition.kind.rawValue), \(definition.currency.code),
                \(definition.limit?.rawValue), \(balance.debitsPosted), \(balance.creditsPosted),
                \(balance.debitsPending), \(balance.creditsPending))
            ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, limit_flag = excluded.limit_flag,
                debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
                debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending
            """)
    }

    func settlement(_ id: String) throws -> SettlementRecord? {
        try rows("SELECT * FROM settlements WHERE id = \(id) AND tenant = \(tenant)", PostgresStore.settlement).first
    }

    func settlementExists(rule: String, triggerSeq: Int64) throws -> Bool {
        try !rows(
            """
            SELECT 1 FROM settlements WHERE tenant = \(tenant) AND rule_id = \(rule) AND trigger_seq = \(triggerSeq)
            """
        ) { _ in true }.isEmpty
    }

    func saveSettlement(_ settlement: SettlementRecord) throws {
        try execute(
            """
            INSERT INTO settlements (id, tenant, rule_id, trigger_seq, status, amount, currency, maker, detail,
                reason, created_at, updated_at, expires_at)
            VALUES (\(settlement.id), \(tenant), \(settlement.ruleID), \(settlement.triggerSeq),
                \(settlement.status.rawValue), \(settlement.amount.minorUnits), \(settlement.amount.currency.code),
                \(settlement.maker), \(settlement.detail.jsonText), \(settlement.reason),
                \(Timestamp.milliseconds(settlement.createdAt)), \(Timestamp.milliseconds(settlement.updatedAt)),
                \(settlement.expiresAt.map(Timestamp.milliseconds)))
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                updated_at = excluded.updated_at
            """)
    }

    func transfers(settlement: String) throws -> [TransferRecord] {
        try rows(
            "SELECT * FROM transfers WHERE settlement_id = \(settlement) AND tenant = \(tenant) ORDER BY id",
            PostgresStore.transfer)
    }

    @discardableResult func appendTransfer(_ transfer: TransferRecord) throws -> TransferRecord {
        var stored = transfer
        stored.id =
            try rows(
                """
                INSERT INTO transfers (tenant, settlement_id, debit_account, credit_account, amount, currency, phase,
                    pending_id, created_at)
                VALUES (\(tenant), \(transfer.settlementID), \(transfer.debit), \(transfer.credit),
                    \(transfer.amount.minorUnits), \(transfer.amount.currency.code), \(transfer.phase.rawValue),
                    \(transfer.pendingID), \(Timestamp.milliseconds(transfer.createdAt)))
                RETURNING id
                """
            ) { try $0.decode(Int64.self) }.first ?? 0
        return stored
    }

    func approvals(settlement: String) throws -> [ApprovalRecord] {
        try rows(
            "SELECT * FROM approvals WHERE settlement_id = \(settlement) ORDER BY time, principal",
            PostgresStore.approval)
    }

    func saveApproval(_ approval: ApprovalRecord) throws {
        try execute(
            """
            INSERT INTO approvals (settlement_id, principal, role, decision, reason, time)
            VALUES (\(approval.settlementID), \(approval.principal), \(approval.role), \(approval.decision.rawValue),
                \(approval.reason), \(Timestamp.milliseconds(approval.time)))
            """)
    }

    func expiredApprovals() throws -> [SettlementRecord] {
        try rows(
            """
            SELECT * FROM settlements WHERE tenant = \(tenant) AND status = 'pending_approval'
                AND expires_at IS NOT NULL AND expires_at <= \(Timestamp.milliseconds(now))
            ORDER BY id
            """, PostgresStore.settlement)
    }

    func saveRuleSet(file: String, source: String) throws -> Int {
        try rows(
            """
            INSERT INTO rule_sets (tenant, version, file, source, loaded_at)
            SELECT \(tenant), COALESCE(MAX(version), 0) + 1, \(file), \(source), \(Timestamp.milliseconds(now))
            FROM rule_sets WHERE tenant = \(tenant)
            RETURNING version
            """
        ) { try $0.decode(Int.self) }.first ?? 0
    }

    func taskApproval(attemptKey: String) throws -> TaskApprovalRecord? {
        try rows(
            "SELECT * FROM task_approvals WHERE tenant = \(tenant) AND attempt_key = \(attemptKey)",
            PostgresStore.taskApproval
        ).first
    }

    func taskApproval(_ id: String) throws -> TaskApprovalRecord? {
        try rows("SELECT * FROM task_approvals WHERE tenant = \(tenant) AND id = \(id)", PostgresStore.taskApproval)
            .first
    }

    func saveTaskApproval(_ approval: TaskApprovalRecord) throws {
        try execute(
            """
            INSERT INTO task_approvals (id, tenant, run_id, key, attempt_key, role, approvers, message, maker,
                status, reason, created_at, updated_at)
            VALUES (\(approval.id), \(tenant), \(approval.runID.rawValue), \(approval.key), \(approval.attemptKey),
                \(approval.role), \(approval.approvers), \(approval.message), \(approval.maker),
                \(approval.status.rawValue), \(approval.reason), \(Timestamp.milliseconds(approval.createdAt)),
                \(Timestamp.milliseconds(approval.updatedAt)))
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                updated_at = excluded.updated_at
            """)
    }

    func signal(idempotencyKey: String) throws -> (name: String, sha256: String, seq: Int64)? {
        try rows(
            """
            SELECT name, sha256, event_seq FROM signals WHERE tenant = \(tenant) AND idempotency_key = \(idempotencyKey)
            """
        ) { row in
            let (name, sha256, seq) = try row.decode((String, String, Int64).self)
            return (name: name, sha256: sha256, seq: seq)
        }.first
    }

    func saveSignal(idempotencyKey: String, name: String, sha256: String, seq: Int64) throws {
        try execute(
            """
            INSERT INTO signals (tenant, idempotency_key, name, sha256, event_seq)
            VALUES (\(tenant), \(idempotencyKey), \(name), \(sha256), \(seq))
            """)
    }

    @discardableResult func append(_ events: [EventDraft]) throws -> Int64 {
        try wait { [connection, logger] in try await PostgresLedger.append(events, on: connection, logger: logger) }
    }
}
