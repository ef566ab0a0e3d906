import Foundation
import Logging
import PostgresNIO
import UAEFCore
import UAEFStore

extension PostgresStore {
    /// Runs `body` in one transaction. The settlement steps are synchronous (SQLite's
    /// transactions are) and this client is async, so the body is planned (``SettlementPlan``):
    /// it runs against what it has read, the reads it missed are loaded on the connection, and
    /// once it runs through, its writes are applied on the same connection. Nothing waits on a
    /// thread for async work.
    public func settle<Result: Sendable>(
        tenant: String, now: Date, _ body: @escaping @Sendable (any SettlementTransaction) throws -> Result
    ) async throws -> Result {
        try await transaction { connection in
            // One settlement transaction per tenant at a time, as SQLite's single writer gives:
            // balances are read, checked against limits and written back, and the cursor is
            // compared and set, so two nodes must not interleave. The lock also keeps the
            // planning snapshot true until the plan is applied.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.settlementLockClass), hashtext(\(tenant)))", logger: logger)
            let access = PostgresSettlementAccess(connection: connection, tenant: tenant, now: now, logger: logger)
            let (result, writes) = try await SettlementPlan.plan(tenant: tenant, now: now, reader: access, body)
            try await access.apply(writes)
            return result
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

    public func settlements(tenant: String, status: SettlementStatus?, before: String?, limit: Int) async throws
        -> [SettlementRecord]
    {
        try await rows(
            """
            SELECT * FROM settlements WHERE tenant = \(tenant)
                AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
                AND (\(before)::text IS NULL OR (created_at, id)
                    < (SELECT created_at, id FROM settlements WHERE tenant = \(tenant) AND id = \(before)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """, Self.settlement)
    }

    public func settlement(_ id: String, tenant: String) async throws -> (
        SettlementRecord, [TransferRecord], [ApprovalRecord]
    )? {
        // One view: a decision committed between the reads would otherwise pair an approved
        // settlement with the transfers of before.
        try await consistentRead { connection in
            guard
                let settlement = try await rows(
                    on: connection, "SELECT * FROM settlements WHERE id = \(id) AND tenant = \(tenant)",
                    Self.settlement
                ).first
            else { return nil }
            let transfers = try await rows(
                on: connection,
                "SELECT * FROM transfers WHERE settlement_id = \(id) AND tenant = \(tenant) ORDER BY id",
                Self.transfer)
            let decisions = try await rows(on: connection, Self.decisionsQuery(id), Self.approval)
            return (settlement, transfers, decisions)
        }
    }

    public func taskApproval(_ id: String, tenant: String) async throws -> TaskApprovalRecord? {
        try await rows("SELECT * FROM task_approvals WHERE tenant = \(tenant) AND id = \(id)", Self.taskApproval).first
    }

    public func decisions(on id: String) async throws -> [ApprovalRecord] {
        try await rows(Self.decisionsQuery(id), Self.approval)
    }

    private static func decisionsQuery(_ id: String) -> PostgresQuery {
        "SELECT * FROM approvals WHERE settlement_id = \(id) ORDER BY time, principal"
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

/// Settlement reads and writes inside one PostgreSQL transaction: the reads a plan misses, and
/// the plan's writes.
struct PostgresSettlementAccess: SettlementReader {
    let connection: PostgresConnection
    let tenant: String
    let now: Date
    let logger: Logger

    private func rows<T>(_ query: PostgresQuery, _ transform: (PostgresRow) throws -> T) async throws -> [T] {
        var result: [T] = []
        for try await row in try await connection.query(query, logger: logger) { result.append(try transform(row)) }
        return result
    }

    private func execute(_ query: PostgresQuery) async throws {
        _ = try await connection.query(query, logger: logger)
    }

    func cursor() async throws -> Int64 {
        try await rows("SELECT next_seq FROM settlement_cursors WHERE tenant = \(tenant)") { try $0.decode(Int64.self) }
            .first ?? 0
    }

    func accounts(_ ids: [String]) async throws -> [String: AccountRecord] {
        let found = try await rows(
            "SELECT * FROM accounts WHERE tenant = \(tenant) AND id = ANY(\(ids))", PostgresStore.account)
        return Dictionary(found.map { ($0.definition.id, $0) }) { first, _ in first }
    }

    func settlement(_ id: String) async throws -> SettlementRecord? {
        try await rows("SELECT * FROM settlements WHERE id = \(id) AND tenant = \(tenant)", PostgresStore.settlement)
            .first
    }

    func existingSettlements(_ keys: [SettlementKey]) async throws -> Set<SettlementKey> {
        let (rules, seqs) = (keys.map(\.rule), keys.map(\.triggerSeq))
        return Set(
            try await rows(
                """
                SELECT rule_id, trigger_seq FROM settlements
                WHERE tenant = \(tenant) AND (rule_id, trigger_seq) IN (SELECT * FROM unnest(\(rules)::text[], \(seqs)::bigint[]))
                """
            ) { row in
                let (rule, seq) = try row.decode((String, Int64).self)
                return SettlementKey(rule: rule, triggerSeq: seq)
            })
    }

    func transfers(settlement: String) async throws -> [TransferRecord] {
        try await rows(
            "SELECT * FROM transfers WHERE settlement_id = \(settlement) AND tenant = \(tenant) ORDER BY id",
            PostgresStore.transfer)
    }

    func approvals(settlement: String) async throws -> [ApprovalRecord] {
        try await rows(
            "SELECT * FROM approvals WHERE settlement_id = \(settlement) ORDER BY time, principal",
            PostgresStore.approval)
    }

    func expiredApprovals() async throws -> [SettlementRecord] {
        try await rows(
            """
            SELECT * FROM settlements WHERE tenant = \(tenant) AND status = 'pending_approval'
                AND expires_at IS NOT NULL AND expires_at <= \(Timestamp.milliseconds(now))
            ORDER BY id
            """, PostgresStore.settlement)
    }

    func latestRuleSetVersion() async throws -> Int {
        try await rows("SELECT COALESCE(MAX(version), 0) FROM rule_sets WHERE tenant = \(tenant)") {
            try $0.decode(Int.self)
        }.first ?? 0
    }

    func taskApproval(attemptKey: String) async throws -> TaskApprovalRecord? {
        try await rows(
            "SELECT * FROM task_approvals WHERE tenant = \(tenant) AND attempt_key = \(attemptKey)",
            PostgresStore.taskApproval
        ).first
    }

    func taskApproval(_ id: String) async throws -> TaskApprovalRecord? {
        try await rows(
            "SELECT * FROM task_approvals WHERE tenant = \(tenant) AND id = \(id)", PostgresStore.taskApproval
        ).first
    }

    func signal(idempotencyKey: String) async throws -> SignalRecord? {
        try await rows(
            """
            SELECT name, sha256, event_seq FROM signals WHERE tenant = \(tenant) AND idempotency_key = \(idempotencyKey)
            """
        ) { row in
            let (name, sha256, seq) = try row.decode((String, String, Int64).self)
            return SignalRecord(name: name, sha256: sha256, seq: seq)
        }.first
    }

    /// Applies a plan's writes: rows of a kind together (a settlement or an account written
    /// twice is written once, as it was last), settlements before the transfers naming them,
    /// and the plan's events in their order in one append.
    func apply(_ writes: [SettlementWrite]) async throws {
        var settlements: [SettlementRecord] = []
        var accounts: [AccountRecord] = []
        var transfers: [TransferRecord] = []
        var events: [EventDraft] = []
        /// Signals with the position of their event among `events`.
        var signals: [(key: String, name: String, sha256: String, position: Int)] = []
        var cursor: Int64?
        for write in writes {
            switch write {
            case .cursor(let seq): cursor = seq
            case .account(let account): accounts.append(account)
            case .settlement(let settlement): settlements.append(settlement)
            case .transfer(let transfer): transfers.append(transfer)
            case .approval(let approval): try await save(approval)
            case .ruleSet(let version, let file, let source):
                try await execute(
                    """
                    INSERT INTO rule_sets (tenant, version, file, source, loaded_at)
                    VALUES (\(tenant), \(version), \(file), \(source), \(Timestamp.milliseconds(now)))
                    """)
            case .taskApproval(let approval): try await save(approval)
            case .signal(let key, let name, let sha256, let event):
                signals.append((key, name, sha256, events.count))
                events.append(event)
            case .events(let drafts): events += drafts
            }
        }
        try await save(settlements.keepingLast(by: \.id))
        try await save(accounts.keepingLast(by: \.definition.id))
        try await append(transfers)
        if let cursor { try await setCursor(cursor) }
        guard !events.isEmpty else { return }
        let first = try await PostgresLedger.append(events, on: connection, logger: logger)
        for signal in signals {
            try await execute(
                """
                INSERT INTO signals (tenant, idempotency_key, name, sha256, event_seq)
                VALUES (\(tenant), \(signal.key), \(signal.name), \(signal.sha256), \(first + Int64(signal.position)))
                """)
        }
    }

    private func setCursor(_ seq: Int64) async throws {
        try await execute(
            """
            INSERT INTO settlement_cursors (tenant, next_seq) VALUES (\(tenant), \(seq))
            ON CONFLICT (tenant) DO UPDATE SET next_seq = excluded.next_seq
            """)
    }

    private func save(_ accounts: [AccountRecord]) async throws {
        try await BulkInsert.run(
            accounts,
            """
            INSERT INTO accounts (tenant, id, kind, currency, limit_flag, debits_posted, credits_posted,
                debits_pending, credits_pending)
            """, width: 9,
            suffix: """
                 ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, limit_flag = excluded.limit_flag,
                    debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
                    debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending
                """, on: connection, logger: logger
        ) { [tenant] account, row in
            row.append(tenant)
            row.append(account.definition.id)
            row.append(account.definition.kind.rawValue)
            row.append(account.definition.currency.code)
            row.append(account.definition.limit?.rawValue)
            row.append(account.balance.debitsPosted)
            row.append(account.balance.creditsPosted)
            row.append(account.balance.debitsPending)
            row.append(account.balance.creditsPending)
        }
    }

    private func save(_ settlements: [SettlementRecord]) async throws {
        try await BulkInsert.run(
            settlements,
            """
            INSERT INTO settlements (id, tenant, rule_id, trigger_seq, status, amount, currency, maker, detail,
                reason, created_at, updated_at, expires_at)
            """, width: 13,
            suffix: """
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                    updated_at = excluded.updated_at
                """, on: connection, logger: logger
        ) { [tenant] settlement, row in
            row.append(settlement.id)
            row.append(tenant)
            row.append(settlement.ruleID)
            row.append(settlement.triggerSeq)
            row.append(settlement.status.rawValue)
            row.append(settlement.amount.minorUnits)
            row.append(settlement.amount.currency.code)
            row.append(settlement.maker)
            row.append(settlement.detail.jsonText)
            row.append(settlement.reason)
            row.append(Timestamp.milliseconds(settlement.createdAt))
            row.append(Timestamp.milliseconds(settlement.updatedAt))
            row.append(settlement.expiresAt.map(Timestamp.milliseconds))
        }
    }

    /// Appends transfers in order (their ids follow it).
    private func append(_ transfers: [TransferRecord]) async throws {
        try await BulkInsert.run(
            transfers,
            """
            INSERT INTO transfers (tenant, settlement_id, debit_account, credit_account, amount, currency, phase,
                pending_id, created_at)
            """, width: 9, on: connection, logger: logger
        ) { [tenant] transfer, row in
            row.append(tenant)
            row.append(transfer.settlementID)
            row.append(transfer.debit)
            row.append(transfer.credit)
            row.append(transfer.amount.minorUnits)
            row.append(transfer.amount.currency.code)
            row.append(transfer.phase.rawValue)
            row.append(transfer.pendingID)
            row.append(Timestamp.milliseconds(transfer.createdAt))
        }
    }

    private func save(_ approval: ApprovalRecord) async throws {
        try await execute(
            """
            INSERT INTO approvals (settlement_id, principal, role, decision, reason, time)
            VALUES (\(approval.settlementID), \(approval.principal), \(approval.role), \(approval.decision.rawValue),
                \(approval.reason), \(Timestamp.milliseconds(approval.time)))
            """)
    }

    private func save(_ approval: TaskApprovalRecord) async throws {
        try await execute(
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
}
