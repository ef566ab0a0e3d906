import Foundation
import UAEFCore

/// A journal account as stored: its declaration and its balances.
public struct AccountRecord: Sendable, Hashable {
    public var tenant: String
    public var definition: AccountDefinition
    public var balance: AccountBalance

    public init(tenant: String, definition: AccountDefinition, balance: AccountBalance = .init()) {
        self.tenant = tenant
        self.definition = definition
        self.balance = balance
    }
}

/// Where a settlement is in its life.
public enum SettlementStatus: String, Sendable, Hashable, CaseIterable {
    case calculated
    case pendingApproval = "pending_approval"
    case approved
    case posted
    case rejected
    case expired
    case voided
}

/// One rule applied to one triggering event.
public struct SettlementRecord: Sendable, Hashable {
    public var id: String
    public var tenant: String
    public var ruleID: String
    /// The ledger seq of the event that triggered it: with the rule, its identity (at most once).
    public var triggerSeq: Int64
    public var status: SettlementStatus
    public var amount: Money
    /// The principal whose action led to it (who started the run, who sent the signal): never its approver.
    public var maker: String
    /// The calculation, the postings and the approval policy, as shown by `settlements show`.
    public var detail: JSONValue
    /// Why it was rejected, when it was.
    public var reason: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// When a pending approval lapses.
    public var expiresAt: Date?

    public init(
        id: String, tenant: String, ruleID: String, triggerSeq: Int64, status: SettlementStatus, amount: Money,
        maker: String, detail: JSONValue, reason: String? = nil, createdAt: Date, updatedAt: Date,
        expiresAt: Date? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.ruleID = ruleID
        self.triggerSeq = triggerSeq
        self.status = status
        self.amount = amount
        self.maker = maker
        self.detail = detail
        self.reason = reason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
    }
}

/// One entry of the double-entry journal: `amount` moves from the debited to the credited account.
public struct TransferRecord: Sendable, Hashable {
    /// Assigned by the store, in order, from 1.
    public var id: Int64
    public var tenant: String
    public var settlementID: String
    public var debit: String
    public var credit: String
    public var amount: Money
    /// `pending`, `posted` or `voided`; never changes once stored.
    public var phase: TransferPhase
    /// For the transfer that posts or voids a pending one: that pending transfer's id.
    public var pendingID: Int64?
    public var createdAt: Date

    public init(
        id: Int64 = 0, tenant: String, settlementID: String, debit: String, credit: String, amount: Money,
        phase: TransferPhase, pendingID: Int64? = nil, createdAt: Date
    ) {
        self.pendingID = pendingID
        self.id = id
        self.tenant = tenant
        self.settlementID = settlementID
        self.debit = debit
        self.credit = credit
        self.amount = amount
        self.phase = phase
        self.createdAt = createdAt
    }
}

/// A principal's decision on a settlement waiting for approval.
public struct ApprovalRecord: Sendable, Hashable {
    public enum Decision: String, Sendable, Hashable {
        case approve, reject
    }

    public var settlementID: String
    public var principal: String
    public var role: String
    public var decision: Decision
    public var reason: String?
    public var time: Date

    public init(
        settlementID: String, principal: String, role: String, decision: Decision, reason: String?, time: Date
    ) {
        self.settlementID = settlementID
        self.principal = principal
        self.role = role
        self.decision = decision
        self.reason = reason
        self.time = time
    }
}

/// A workflow task of kind `approval` waiting for principals to approve or reject it.
public struct TaskApprovalRecord: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case pending, approved, rejected
        /// The attempt it belonged to ended first (timed out, cancelled, interrupted by a crash).
        case expired
    }

    /// `apr_…`; approvals and rejections name it like a settlement id.
    public var id: String
    public var tenant: String
    public var runID: RunID
    /// The task key (`id` or `id[index]`).
    public var key: String
    /// The attempt's idempotency key: one request per attempt, also across a resumed run.
    public var attemptKey: String
    public var role: String
    public var approvers: Int
    public var message: String
    /// Who started the run: never one of its approvers.
    public var maker: String
    public var status: Status
    public var reason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenant: String, runID: RunID, key: String, attemptKey: String, role: String, approvers: Int,
        message: String, maker: String, status: Status, reason: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenant = tenant
        self.runID = runID
        self.key = key
        self.attemptKey = attemptKey
        self.role = role
        self.approvers = approvers
        self.message = message
        self.maker = maker
        self.status = status
        self.reason = reason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A stored rules file: the tenant's active rules are its newest version.
public struct RuleSetRecord: Sendable, Hashable {
    public var version: Int
    public var file: String
    public var source: String
    public var loadedAt: Date

    public init(version: Int, file: String, source: String, loadedAt: Date) {
        self.version = version
        self.file = file
        self.source = source
        self.loadedAt = loadedAt
    }
}

/// Reads and writes of settlement state inside one store transaction: everything a settlement
/// step changes (rows, balances, events, the cursor) commits together or not at all.
public protocol SettlementTransaction {
    var tenant: String { get }
    var now: Date { get }
    /// The seq of the next event settlement processing reads.
    func cursor() throws -> Int64
    func setCursor(_ seq: Int64) throws
    func account(_ id: String) throws -> AccountRecord?
    func saveAccount(_ account: AccountRecord) throws
    func settlement(_ id: String) throws -> SettlementRecord?
    func settlementExists(rule: String, triggerSeq: Int64) throws -> Bool
    /// Inserts or updates.
    func saveSettlement(_ settlement: SettlementRecord) throws
    func transfers(settlement: String) throws -> [TransferRecord]
    /// Appends a transfer and returns it with its id. Transfers are never changed or deleted (the
    /// store refuses it): a pending one is posted or voided by appending one that names it.
    @discardableResult func appendTransfer(_ transfer: TransferRecord) throws -> TransferRecord
    func approvals(settlement: String) throws -> [ApprovalRecord]
    func saveApproval(_ approval: ApprovalRecord) throws
    /// Settlements waiting for approval whose time ran out.
    func expiredApprovals() throws -> [SettlementRecord]
    /// Stores a validated rules file as the tenant's newest rule set; returns its version.
    func saveRuleSet(file: String, source: String) throws -> Int
    /// The task approval of an attempt, by its idempotency key, or by id.
    func taskApproval(attemptKey: String) throws -> TaskApprovalRecord?
    func taskApproval(_ id: String) throws -> TaskApprovalRecord?
    /// Inserts or updates.
    func saveTaskApproval(_ approval: TaskApprovalRecord) throws
    /// The signal first sent with an idempotency key: its name, payload digest and event seq.
    func signal(idempotencyKey: String) throws -> SignalRecord?
    /// Appends a signal's event to the ledger and records its idempotency key with the event's seq.
    func appendSignal(_ event: EventDraft, idempotencyKey: String, name: String, sha256: String) throws
    /// Appends events to the ledger in this transaction.
    func append(_ events: [EventDraft]) throws
}

/// Settlement persistence: rule sets, accounts, settlements, the journal.
public protocol SettlementStore: Sendable {
    /// Runs `body` in one write transaction of `tenant`'s settlement state.
    func settle<Result: Sendable>(
        tenant: String, now: Date, _ body: @escaping @Sendable (any SettlementTransaction) throws -> Result
    ) async throws -> Result

    /// The newest rule set, or nil when none was loaded.
    func activeRuleSet(tenant: String) async throws -> RuleSetRecord?

    func accounts(tenant: String) async throws -> [AccountRecord]

    /// Settlements, newest first, optionally with one status, and only those older than the
    /// settlement `before` when given (the last of the previous page; none when it does not exist).
    func settlements(tenant: String, status: SettlementStatus?, before: String?, limit: Int) async throws
        -> [SettlementRecord]

    func settlement(_ id: String, tenant: String) async throws -> (
        SettlementRecord, [TransferRecord], [ApprovalRecord]
    )?

    func taskApproval(_ id: String, tenant: String) async throws -> TaskApprovalRecord?

    /// The decisions recorded on a settlement or a task approval, oldest first.
    func decisions(on id: String) async throws -> [ApprovalRecord]

    /// Task approvals, newest first, optionally with one status.
    func taskApprovals(tenant: String, status: TaskApprovalRecord.Status?) async throws -> [TaskApprovalRecord]

    /// The settlements an event triggered.
    func settlements(tenant: String, triggerSeq: Int64) async throws -> [SettlementRecord]

    /// Journal entries from `id` on, in order.
    func transfers(tenant: String, from id: Int64, limit: Int) async throws -> [TransferRecord]
}
