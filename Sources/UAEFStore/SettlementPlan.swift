import Foundation
import UAEFCore

/// The reads a settlement transaction makes, answered by a backend that cannot run the
/// synchronous ``SettlementTransaction`` against its connection (PostgreSQL's client is async).
/// Every method reads committed state inside the backend's open transaction.
public protocol SettlementReader {
    func cursor() async throws -> Int64
    func settlement(_ id: String) async throws -> SettlementRecord?
    func transfers(settlement: String) async throws -> [TransferRecord]
    func approvals(settlement: String) async throws -> [ApprovalRecord]
    func expiredApprovals() async throws -> [SettlementRecord]
    /// The newest rule set's version, 0 when none was loaded.
    func latestRuleSetVersion() async throws -> Int
    func taskApproval(attemptKey: String) async throws -> TaskApprovalRecord?
    func taskApproval(_ id: String) async throws -> TaskApprovalRecord?
    func signal(idempotencyKey: String) async throws -> SignalRecord?
    /// Which of `keys` have a settlement: one query for a whole page's triggers.
    func existingSettlements(_ keys: [SettlementKey]) async throws -> Set<SettlementKey>
    /// The accounts among `ids` that exist, by id.
    func accounts(_ ids: [String]) async throws -> [String: AccountRecord]
}

/// A settlement's identity: the rule and the seq of the event that triggered it.
public struct SettlementKey: Sendable, Hashable {
    public var rule: String
    public var triggerSeq: Int64

    public init(rule: String, triggerSeq: Int64) {
        self.rule = rule
        self.triggerSeq = triggerSeq
    }
}

/// A signal's idempotency key as stored: the name and payload digest first sent with it, and
/// the seq of its event.
public struct SignalRecord: Sendable, Hashable {
    public var name: String
    public var sha256: String
    public var seq: Int64

    public init(name: String, sha256: String, seq: Int64) {
        self.name = name
        self.sha256 = sha256
        self.seq = seq
    }
}

/// One change a settlement transaction makes, in the order it made them.
public enum SettlementWrite: Sendable {
    case cursor(Int64)
    case account(AccountRecord)
    case settlement(SettlementRecord)
    case transfer(TransferRecord)
    case approval(ApprovalRecord)
    case ruleSet(version: Int, file: String, source: String)
    case taskApproval(TaskApprovalRecord)
    /// A signal's event, appended, and its idempotency key recorded with the event's seq.
    case signal(idempotencyKey: String, name: String, sha256: String, event: EventDraft)
    case events([EventDraft])
}

/// Runs a settlement transaction's body purely, for backends whose reads are async: the body
/// runs against a snapshot of what it has read so far; reads the snapshot cannot answer are
/// loaded through the backend's ``SettlementReader`` and the body runs again, until it runs
/// through without a miss. Its writes are then the plan the backend applies in the same
/// transaction. The backend holds its settlement lock throughout, so the snapshot stays true.
public enum SettlementPlan {
    /// How many times the body may meet unread state before planning gives up: each pass loads
    /// every read it missed, and settlement steps read in at most a few dependent rounds.
    static let maximumPasses = 16

    /// The body's result and the writes that make it durable.
    public static func plan<Result>(
        tenant: String, now: Date, reader: some SettlementReader,
        _ body: (any SettlementTransaction) throws -> Result
    ) async throws -> (result: Result, writes: [SettlementWrite]) {
        var snapshot = Snapshot()
        for _ in 0..<maximumPasses {
            let transaction = PlanningTransaction(tenant: tenant, now: now, snapshot: snapshot)
            let outcome = Swift.Result { try body(transaction) }
            // A body that missed a read saw defaults in its place; whatever it did is discarded.
            guard transaction.misses.isEmpty else {
                try await snapshot.load(transaction.misses, from: reader)
                continue
            }
            return (try outcome.get(), transaction.writes)
        }
        throw StoreCorruption(
            location: "settlement", reason: "planning read new state on each of \(maximumPasses) passes")
    }
}

/// A read the snapshot may hold.
enum SettlementRead: Hashable {
    case cursor, expiredApprovals, ruleSetVersion
    case account(String)
    case settlement(String)
    case transfers(String)
    case approvals(String)
    case taskApproval(String)
    case settlementExists(SettlementKey)
    case taskApprovalByAttempt(String)
    case signal(String)
}

/// What the body has read, by read.
struct Snapshot {
    var cursor: Int64?
    var expiredApprovals: [SettlementRecord]?
    var ruleSetVersion: Int?
    var accounts: [String: AccountRecord?] = [:]
    var settlements: [String: SettlementRecord?] = [:]
    var transfers: [String: [TransferRecord]] = [:]
    var approvals: [String: [ApprovalRecord]] = [:]
    var taskApprovals: [String: TaskApprovalRecord?] = [:]
    var taskApprovalsByAttempt: [String: TaskApprovalRecord?] = [:]
    var existing: [SettlementRead: Bool] = [:]
    var signals: [String: SignalRecord?] = [:]

    /// Loads every read of `reads`: the many of a page (whether each trigger was settled, the
    /// accounts) in one query each, the rest one by one.
    mutating func load(_ reads: Set<SettlementRead>, from reader: some SettlementReader) async throws {
        var keys: [SettlementKey] = []
        var accountIDs: [String] = []
        for read in reads {
            switch read {
            case .settlementExists(let key): keys.append(key)
            case .account(let id): accountIDs.append(id)
            default: try await load(read, from: reader)
            }
        }
        if !keys.isEmpty {
            let found = try await reader.existingSettlements(keys)
            for key in keys { existing[.settlementExists(key)] = found.contains(key) }
        }
        if !accountIDs.isEmpty {
            let found = try await reader.accounts(accountIDs)
            for id in accountIDs { accounts[id] = .some(found[id]) }
        }
    }

    private mutating func load(_ read: SettlementRead, from reader: some SettlementReader) async throws {
        switch read {
        case .cursor: cursor = try await reader.cursor()
        case .expiredApprovals: expiredApprovals = try await reader.expiredApprovals()
        case .ruleSetVersion: ruleSetVersion = try await reader.latestRuleSetVersion()
        case .account, .settlementExists: try await load([read], from: reader)
        case .settlement(let id): settlements[id] = .some(try await reader.settlement(id))
        case .transfers(let id): transfers[id] = try await reader.transfers(settlement: id)
        case .approvals(let id): approvals[id] = try await reader.approvals(settlement: id)
        case .taskApproval(let id): taskApprovals[id] = .some(try await reader.taskApproval(id))
        case .taskApprovalByAttempt(let key):
            taskApprovalsByAttempt[key] = .some(try await reader.taskApproval(attemptKey: key))
        case .signal(let key): signals[key] = .some(try await reader.signal(idempotencyKey: key))
        }
    }
}

/// A ``SettlementTransaction`` over a snapshot: reads see the snapshot with this transaction's
/// own writes laid over it; a read the snapshot lacks is noted as missed and answered with an
/// empty default; writes are recorded, in order. Transfers appended here have no id yet (0).
final class PlanningTransaction: SettlementTransaction {
    let tenant: String
    let now: Date
    private let snapshot: Snapshot
    private(set) var misses: Set<SettlementRead> = []
    private(set) var writes: [SettlementWrite] = []
    // This transaction's writes, as later reads see them.
    private var cursorWritten: Int64?
    private var accounts: [String: AccountRecord] = [:]
    private var settlements: [String: SettlementRecord] = [:]
    private var transfersAppended: [TransferRecord] = []
    private var approvalsSaved: [ApprovalRecord] = []
    private var ruleSetsSaved = 0
    private var taskApprovals: [String: TaskApprovalRecord] = [:]
    private var signals: [String: SignalRecord] = [:]

    init(tenant: String, now: Date, snapshot: Snapshot) {
        self.tenant = tenant
        self.now = now
        self.snapshot = snapshot
    }

    /// The snapshot's answer, or `fallback` with the read noted as missed.
    private func known<T>(_ value: T?, _ read: SettlementRead, else fallback: T) -> T {
        if let value { return value }
        misses.insert(read)
        return fallback
    }

    func cursor() throws -> Int64 { cursorWritten ?? known(snapshot.cursor, .cursor, else: 0) }

    func setCursor(_ seq: Int64) throws {
        cursorWritten = seq
        writes.append(.cursor(seq))
    }

    func account(_ id: String) throws -> AccountRecord? {
        accounts[id] ?? known(snapshot.accounts[id], .account(id), else: nil)
    }

    func saveAccount(_ account: AccountRecord) throws {
        accounts[account.definition.id] = account
        writes.append(.account(account))
    }

    func settlement(_ id: String) throws -> SettlementRecord? {
        settlements[id] ?? known(snapshot.settlements[id], .settlement(id), else: nil)
    }

    func settlementExists(rule: String, triggerSeq: Int64) throws -> Bool {
        if settlements.values.contains(where: { $0.ruleID == rule && $0.triggerSeq == triggerSeq }) { return true }
        let read = SettlementRead.settlementExists(SettlementKey(rule: rule, triggerSeq: triggerSeq))
        return known(snapshot.existing[read], read, else: false)
    }

    func saveSettlement(_ settlement: SettlementRecord) throws {
        settlements[settlement.id] = settlement
        writes.append(.settlement(settlement))
    }

    func transfers(settlement: String) throws -> [TransferRecord] {
        known(snapshot.transfers[settlement], .transfers(settlement), else: [])
            + transfersAppended.filter { $0.settlementID == settlement }
    }

    func appendTransfer(_ transfer: TransferRecord) throws -> TransferRecord {
        transfersAppended.append(transfer)
        writes.append(.transfer(transfer))
        return transfer
    }

    func approvals(settlement: String) throws -> [ApprovalRecord] {
        known(snapshot.approvals[settlement], .approvals(settlement), else: [])
            + approvalsSaved.filter { $0.settlementID == settlement }
    }

    func saveApproval(_ approval: ApprovalRecord) throws {
        approvalsSaved.append(approval)
        writes.append(.approval(approval))
    }

    func expiredApprovals() throws -> [SettlementRecord] {
        known(snapshot.expiredApprovals, .expiredApprovals, else: []).compactMap { stored in
            let current = settlements[stored.id] ?? stored
            return current.status == .pendingApproval ? current : nil
        }
    }

    func saveRuleSet(file: String, source: String) throws -> Int {
        ruleSetsSaved += 1
        let version = known(snapshot.ruleSetVersion, .ruleSetVersion, else: 0) + ruleSetsSaved
        writes.append(.ruleSet(version: version, file: file, source: source))
        return version
    }

    func taskApproval(attemptKey: String) throws -> TaskApprovalRecord? {
        taskApprovals.values.first { $0.attemptKey == attemptKey }
            ?? known(snapshot.taskApprovalsByAttempt[attemptKey], .taskApprovalByAttempt(attemptKey), else: nil)
    }

    func taskApproval(_ id: String) throws -> TaskApprovalRecord? {
        taskApprovals[id] ?? known(snapshot.taskApprovals[id], .taskApproval(id), else: nil)
    }

    func saveTaskApproval(_ approval: TaskApprovalRecord) throws {
        taskApprovals[approval.id] = approval
        writes.append(.taskApproval(approval))
    }

    func signal(idempotencyKey: String) throws -> SignalRecord? {
        signals[idempotencyKey] ?? known(snapshot.signals[idempotencyKey], .signal(idempotencyKey), else: nil)
    }

    func appendSignal(_ event: EventDraft, idempotencyKey: String, name: String, sha256: String) throws {
        // Its seq is given when the plan is applied; nothing in a transaction reads it back.
        signals[idempotencyKey] = SignalRecord(name: name, sha256: sha256, seq: -1)
        writes.append(.signal(idempotencyKey: idempotencyKey, name: name, sha256: sha256, event: event))
    }

    func append(_ events: [EventDraft]) throws {
        writes.append(.events(events))
    }
}
