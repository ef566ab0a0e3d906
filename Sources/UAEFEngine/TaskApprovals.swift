import Foundation
import UAEFCore
import UAEFStore

/// A request a business rule refuses (an approval by the wrong role, a decision on something
/// already decided), with the reason; nothing changed. A usage error: exit 2, HTTP 409 or 422.
public struct Refusal: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The rule every approval obeys, for settlements and workflow tasks alike: approvers act in
/// the required role, the maker never approves their own work (nor does whoever retried the run
/// it comes from), and each principal decides once.
public enum MakerChecker {
    /// Why `principal` may not decide on `what` (named in the message), or nil when they may.
    /// `retrier` is who retried the run that led to it last, when that is not the maker.
    public static func refusal(
        principal: String, role: String, neededRole: String, maker: String, retrier: String? = nil,
        previous: [ApprovalRecord], what: String
    ) -> Refusal? {
        guard role == neededRole else {
            return Refusal("\(what) needs approvers with role \(neededRole), not \(role)")
        }
        guard principal != maker else {
            return Refusal("\(principal) started what led to \(what) and cannot also approve it (maker-checker)")
        }
        guard principal != retrier else {
            return Refusal(
                "\(principal) retried the run that led to \(what) and cannot also approve it (maker-checker)")
        }
        guard !previous.contains(where: { $0.principal == principal }) else {
            return Refusal("\(principal) has already decided on \(what)")
        }
        return nil
    }
}

/// Makes the ledger events and sortable ids of one settlement-store transaction, by one actor at
/// the transaction's time.
public struct TransactionEvents {
    public let tenant: String
    public let actor: String
    public let now: Date
    private var random = SeededRandom.system()

    public init(_ transaction: any SettlementTransaction, actor: String) {
        self.tenant = transaction.tenant
        self.actor = actor
        self.now = transaction.now
    }

    /// A new id: `prefix` and a time-sortable suffix.
    public mutating func newID(_ prefix: String) -> String { prefix + SortableID.make(at: now, using: &random) }

    /// A ledger event by `actor` (this transaction's actor unless given).
    public mutating func event(_ type: String, subject: String, actor: String? = nil, _ data: [String: JSONValue])
        -> EventDraft
    {
        EventDraft(
            id: newID("evt_"), time: now, type: type, actor: actor ?? self.actor, tenant: tenant, subject: subject,
            data: data)
    }
}

extension Engine {
    /// Whether a task approval still has a task waiting for it: its attempt is running.
    public func isWaiting(_ approval: TaskApprovalRecord) async throws -> Bool {
        guard let snapshot = try await store.snapshot(of: approval.runID, tenant: tenant) else { return false }
        return snapshot.attempts.contains { $0.idempotencyKey == approval.attemptKey && $0.status == .running }
    }

    /// Records a principal's decision on a workflow task waiting for approval (kind `approval`):
    /// the maker-checker rules of ``MakerChecker``; once enough approve (or one rejects) the
    /// waiting task finishes. An approval whose attempt already ended (timed out, cancelled,
    /// interrupted) expires instead.
    public func decide(
        task id: String, _ decision: ApprovalRecord.Decision, principal: String, role: String, reason: String?
    ) async throws -> TaskApprovalRecord {
        let approval = try await store.taskApproval(id, tenant: tenant)
        if let approval, approval.status == .pending, try await !isWaiting(approval) {
            try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
                guard var current = try transaction.taskApproval(id), current.status == .pending else { return }
                var events = TransactionEvents(transaction, actor: principal)
                current.status = .expired
                current.reason = "the attempt it belonged to ended before a decision"
                current.updatedAt = transaction.now
                try transaction.saveTaskApproval(current)
                try transaction.append([
                    events.event(
                        "approval.expired", subject: "\(current.runID.rawValue)/\(current.key)",
                        ["approval": .string(id), "reason": .string(current.reason ?? "")])
                ])
            }
            throw Refusal(
                "approval \(id) expired: the task attempt it belonged to ended (timed out, cancelled or interrupted)")
        }
        // Whoever retried the run last brought the approval about as much as its maker did. A run is
        // retried only once it has ended, by when its pending approvals have expired: the retrier
        // read here is the one whose go asked.
        let retrier: String?
        if let approval {
            retrier = try await store.run(approval.runID, tenant: tenant)?.retriedBy
        } else {
            retrier = nil
        }
        let outcome = try await store.settle(tenant: tenant, now: configuration.clock()) { transaction in
            try Self.record(
                task: id, decision, principal: principal, role: role, reason: reason, retrier: retrier,
                in: transaction)
        }
        return try outcome.get()
    }

    private static func record(
        task id: String, _ decision: ApprovalRecord.Decision, principal: String, role: String, reason: String?,
        retrier: String?, in transaction: any SettlementTransaction
    ) throws -> Result<TaskApprovalRecord, Refusal> {
        guard var approval = try transaction.taskApproval(id) else {
            return .failure(Refusal("no approval \(id) in tenant \(transaction.tenant)"))
        }
        guard approval.status == .pending else {
            return .failure(Refusal("approval \(id) is \(approval.status.rawValue); it takes no more decisions"))
        }
        let previous = try transaction.approvals(settlement: id)
        if let refusal = MakerChecker.refusal(
            principal: principal, role: role, neededRole: approval.role, maker: approval.maker, retrier: retrier,
            previous: previous, what: "approval \(id)")
        {
            return .failure(refusal)
        }
        try transaction.saveApproval(
            ApprovalRecord(
                settlementID: id, principal: principal, role: role, decision: decision, reason: reason,
                time: transaction.now))
        var data: [String: JSONValue] = [
            "approval": .string(id), "decision": .string(decision.rawValue), "role": .string(role),
        ]
        if let reason { data["reason"] = .string(reason) }
        var events = TransactionEvents(transaction, actor: principal)
        let subject = "\(approval.runID.rawValue)/\(approval.key)"
        var drafts = [events.event("approval.recorded", subject: subject, data)]
        let approvals = previous.filter { $0.decision == .approve }.count + (decision == .approve ? 1 : 0)
        if decision == .reject || approvals >= approval.approvers {
            approval.status = decision == .reject ? .rejected : .approved
            approval.reason = reason
            approval.updatedAt = transaction.now
            try transaction.saveTaskApproval(approval)
            drafts.append(
                events.event("approval.\(approval.status.rawValue)", subject: subject, ["approval": .string(id)]))
        }
        try transaction.append(drafts)
        return .success(approval)
    }
}
