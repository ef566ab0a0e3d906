import Foundation
import UAEFCore
import UAEFEngine
import UAEFStore

/// The settlement state changes, each run inside one store transaction so that a settlement,
/// its journal transfers, the account balances and its ledger events commit together.
struct SettlementSteps {
    let transaction: any SettlementTransaction
    /// Makes this transaction's events and ids.
    var factory: TransactionEvents
    private(set) var events: [EventDraft] = []
    /// Accounts read in this transaction, with the balances changed so far; saved by ``commit()``.
    private var accounts: [String: AccountRecord] = [:]
    private var changedAccounts: Set<String> = []
    /// Accounts that may be created on first use (a workflow's `settlements:` section declares them).
    var declared: [AccountDefinition] = []

    init(_ transaction: any SettlementTransaction, actor: String) {
        self.transaction = transaction
        self.factory = TransactionEvents(transaction, actor: actor)
    }

    var now: Date { transaction.now }

    /// Saves the changed balances and appends the events: the end of every use.
    func commit() throws {
        for id in changedAccounts.sorted() { try transaction.saveAccount(accounts[id]!) }
        try transaction.append(events)
    }

    /// An account as this transaction sees it.
    private mutating func account(_ id: String) throws -> AccountRecord {
        if let known = accounts[id] { return known }
        if let account = try transaction.account(id) {
            accounts[id] = account
            return account
        }
        guard let definition = declared.first(where: { $0.id == id }) else {
            throw Refusal("account \(id) does not exist; load a rules file that declares it")
        }
        let account = AccountRecord(tenant: transaction.tenant, definition: definition)
        accounts[id] = account
        changedAccounts.insert(id)
        return account
    }

    mutating func newID(_ prefix: String) -> String { factory.newID(prefix) }

    /// A ledger event of this transaction, by `actor` (this step's actor unless given).
    mutating func event(_ type: String, subject: String, actor: String? = nil, _ data: [String: JSONValue])
        -> EventDraft
    {
        factory.event(type, subject: subject, actor: actor, data)
    }

    /// An event about `settlement`, naming its rule; `settlement.posted` also says the amount
    /// booked, so what each rule settles can be summed from the log alone.
    mutating func emit(
        _ type: String, _ settlement: SettlementRecord, actor: String? = nil, _ data: [String: JSONValue]
    ) {
        var about: [String: JSONValue] = ["rule": .string(settlement.ruleID)]
        if type == "settlement.posted" {
            about["amount"] = .string(settlement.amount.decimalText)
            about["currency"] = .string(settlement.amount.currency.code)
        }
        events.append(event(type, subject: settlement.id, actor: actor, data.merging(about) { own, _ in own }))
    }

    /// What a rule makes of an event, computed outside any transaction: nil when it does not
    /// match, an error when it cannot be applied. Pure, so a page's evaluations can run in parallel.
    static func evaluate(_ rule: SettlementRule, _ trigger: RuleTrigger) -> Result<
        SettlementCalculation?, SettlementError
    > {
        do {
            guard try rule.matches(trigger) else { return .success(nil) }
            return .success(try rule.calculate(trigger))
        } catch { return .failure(error) }
    }

    /// Books an evaluated rule for the event at `seq`, at most once per (rule, event). A rule
    /// that cannot be applied (an expression error, a missing account, a balance limit) leaves a
    /// rejected settlement saying why, so the event is never tried again silently.
    /// `retrier` (who retried the event's run last, when not `maker`) is kept in the detail as
    /// `retried_by`, and may not approve it either.
    mutating func apply(
        _ rule: SettlementRule, _ evaluation: Result<SettlementCalculation?, SettlementError>, seq: Int64,
        maker: String, retrier: String? = nil
    ) throws -> SettlementRecord? {
        if case .success(nil) = evaluation { return nil }
        guard try !transaction.settlementExists(rule: rule.id, triggerSeq: seq) else { return nil }
        var settlement = SettlementRecord(
            id: newID("stl_"), tenant: transaction.tenant, ruleID: rule.id, triggerSeq: seq, status: .calculated,
            amount: Money(minorUnits: 0, currency: rule.currency), maker: maker, detail: [:], createdAt: now,
            updatedAt: now)
        do {
            guard let calculation = try evaluation.get() else { return nil }
            settlement.amount = calculation.money
            settlement.detail = calculation.detail(rule: rule)
            if let retrier, case .object(var detail) = settlement.detail {
                detail["retried_by"] = .string(retrier)
                settlement.detail = .object(detail)
            }
            let phase: TransferPhase = calculation.needsApproval ? .pending : .posted
            let (balances, transfers) = try journal(calculation.postings, phase: phase, settlement: settlement.id)
            settlement.status = calculation.needsApproval ? .pendingApproval : .posted
            settlement.expiresAt = rule.approval?.expires.map { now.addingTimeInterval($0.timeInterval) }
            if !calculation.needsApproval { settlement.expiresAt = nil }
            try transaction.saveSettlement(settlement)
            for (id, balance) in balances {
                accounts[id]?.balance = balance
                changedAccounts.insert(id)
            }
            for transfer in transfers { try transaction.appendTransfer(transfer) }
            emit("settlement.calculated", settlement, Self.summary(settlement, triggerSeq: seq))
            emit(calculation.needsApproval ? "settlement.pending_approval" : "settlement.posted", settlement, [:])
        } catch let error where Self.isRuleFailure(error) {
            settlement.status = .rejected
            settlement.reason = "\(error)"
            try transaction.saveSettlement(settlement)
            emit(
                "settlement.rejected", settlement,
                ["trigger_seq": .number(Number(Int(seq))), "reason": .string("\(error)")])
        }
        return settlement
    }

    /// Whether `error` says the rule cannot be applied (a settlement to reject), as opposed to a
    /// store failure, which ends the transaction instead.
    static func isRuleFailure(_ error: any Error) -> Bool {
        error is SettlementError || error is Refusal || error is JournalError || error is MoneyError
    }

    /// New transfers for `postings` and the balances they leave, checked against every
    /// account's limits; nothing is saved.
    private mutating func journal(_ postings: [Posting], phase: TransferPhase, settlement: String) throws -> (
        [String: AccountBalance], [TransferRecord]
    ) {
        var balances: [String: AccountBalance] = [:]
        var transfers: [TransferRecord] = []
        for posting in postings where posting.amount.minorUnits != 0 {
            // A negative amount moves the other way: the journal holds positive amounts only.
            let (debit, credit) =
                posting.amount.minorUnits > 0 ? (posting.debit, posting.credit) : (posting.credit, posting.debit)
            let amount = Money(minorUnits: abs(posting.amount.minorUnits), currency: posting.amount.currency)
            let debitAccount = try account(debit)
            let creditAccount = try account(credit)
            for account in [debitAccount, creditAccount] where account.definition.currency != amount.currency {
                throw Refusal(
                    MoneyError.currencyMismatch(amount.currency, account.definition.currency).description)
            }
            var debitBalance = balances[debit] ?? debitAccount.balance
            var creditBalance = balances[credit] ?? creditAccount.balance
            try Journal.open(
                amount.minorUnits, phase: phase, debit: &debitBalance, debitAccount: debitAccount.definition,
                credit: &creditBalance, creditAccount: creditAccount.definition)
            balances[debit] = debitBalance
            balances[credit] = creditBalance
            transfers.append(
                TransferRecord(
                    tenant: transaction.tenant, settlementID: settlement, debit: debit, credit: credit, amount: amount,
                    phase: phase, createdAt: now))
        }
        return (balances, transfers)
    }

    /// Posts or voids a settlement's pending transfers: each gets a new transfer in `phase` that
    /// names it (the journal is append-only; a pending transfer already resolved is left alone).
    mutating func finish(_ settlement: SettlementRecord, as phase: TransferPhase) throws {
        let transfers = try transaction.transfers(settlement: settlement.id)
        let resolved = Set(transfers.compactMap(\.pendingID))
        for pending in transfers where pending.phase == .pending && !resolved.contains(pending.id) {
            var debit = try account(pending.debit).balance
            var credit = try account(pending.credit).balance
            try Journal.finish(pending.amount.minorUnits, as: phase, debit: &debit, credit: &credit)
            accounts[pending.debit]?.balance = debit
            accounts[pending.credit]?.balance = credit
            changedAccounts.formUnion([pending.debit, pending.credit])
            try transaction.appendTransfer(
                TransferRecord(
                    tenant: pending.tenant, settlementID: pending.settlementID, debit: pending.debit,
                    credit: pending.credit, amount: pending.amount, phase: phase, pendingID: pending.id, createdAt: now)
            )
        }
    }

    /// Moves a settlement to `status` and records the transition.
    mutating func transition(
        _ settlement: inout SettlementRecord, to status: SettlementStatus, actor: String? = nil, reason: String? = nil
    ) throws {
        settlement.status = status
        settlement.updatedAt = now
        if let reason { settlement.reason = reason }
        try transaction.saveSettlement(settlement)
        emit("settlement.\(status.rawValue)", settlement, actor: actor, reason.map { ["reason": .string($0)] } ?? [:])
    }

    /// A principal's decision on a settlement waiting for approval (see ``Engine/decide(_:_:principal:role:reason:)``).
    mutating func decide(
        _ id: String, _ decision: ApprovalRecord.Decision, principal: String, role: String, reason: String?
    ) throws -> Result<SettlementRecord, Refusal> {
        guard var settlement = try transaction.settlement(id) else {
            return .failure(Refusal("no settlement \(id) in tenant \(transaction.tenant)"))
        }
        if settlement.status == .pendingApproval, let expiry = settlement.expiresAt, expiry <= transaction.now {
            _ = try expireApprovals()
            return .failure(Refusal("settlement \(id) expired at \(Timestamp.format(expiry))"))
        }
        guard settlement.status == .pendingApproval else {
            return .failure(
                Refusal(
                    "settlement \(id) is \(settlement.status.rawValue); only a settlement pending approval takes decisions"
                ))
        }
        let policy = settlement.detail["approval"]
        let required = policy?["approvers"]?.numberValue?.intValue ?? 1
        let previous = try transaction.approvals(settlement: id)
        if let refusal = MakerChecker.refusal(
            principal: principal, role: role, neededRole: policy?["role"]?.stringValue ?? role,
            maker: settlement.maker, retrier: settlement.detail["retried_by"]?.stringValue, previous: previous,
            what: "settlement \(id)")
        {
            return .failure(refusal)
        }
        try transaction.saveApproval(
            ApprovalRecord(
                settlementID: id, principal: principal, role: role, decision: decision, reason: reason,
                time: transaction.now))
        var data: [String: JSONValue] = ["decision": .string(decision.rawValue), "role": .string(role)]
        if let reason { data["reason"] = .string(reason) }
        emit("settlement.approval_recorded", settlement, data)
        if decision == .reject {
            try finish(settlement, as: .voided)
            try transition(&settlement, to: .rejected, reason: reason ?? "rejected by \(principal)")
        } else if previous.filter({ $0.decision == .approve }).count + 1 >= required {
            try transition(&settlement, to: .approved)
            try finish(settlement, as: .posted)
            try transition(&settlement, to: .posted)
        }
        return .success(settlement)
    }

    /// Reverses a posted settlement: a reversing transfer for each of its transfers (never an
    /// edit), then the settlement is voided with the reason.
    mutating func reverse(_ id: String, reason: String) throws -> Result<SettlementRecord, Refusal> {
        guard var settlement = try transaction.settlement(id) else {
            return .failure(Refusal("no settlement \(id) in tenant \(transaction.tenant)"))
        }
        guard settlement.status == .posted else {
            return .failure(
                Refusal(
                    "settlement \(id) is \(settlement.status.rawValue); only a posted settlement is reversed (one pending approval is rejected)"
                ))
        }
        for transfer in try transaction.transfers(settlement: id) where transfer.phase == .posted {
            let (debit, credit) = (try account(transfer.credit), try account(transfer.debit))
            var debitBalance = debit.balance
            var creditBalance = credit.balance
            do {
                try Journal.open(
                    transfer.amount.minorUnits, phase: .posted, debit: &debitBalance, debitAccount: debit.definition,
                    credit: &creditBalance, creditAccount: credit.definition)
            } catch { return .failure(Refusal("settlement \(id) cannot be reversed: \(error)")) }
            accounts[debit.definition.id]?.balance = debitBalance
            accounts[credit.definition.id]?.balance = creditBalance
            changedAccounts.formUnion([debit.definition.id, credit.definition.id])
            try transaction.appendTransfer(
                TransferRecord(
                    tenant: transaction.tenant, settlementID: id, debit: transfer.credit, credit: transfer.debit,
                    amount: transfer.amount, phase: .posted, createdAt: now))
        }
        try transition(&settlement, to: .voided, reason: reason)
        return .success(settlement)
    }

    /// Settlements whose approval window closed: expired, their reservations released.
    mutating func expireApprovals() throws -> Int {
        let expired = try transaction.expiredApprovals()
        for var settlement in expired {
            try finish(settlement, as: .voided)
            let deadline = settlement.expiresAt.map(Timestamp.format) ?? "its deadline"
            try transition(&settlement, to: .expired, reason: "approval not given by \(deadline)")
        }
        return expired.count
    }

    static func summary(_ settlement: SettlementRecord, triggerSeq: Int64) -> [String: JSONValue] {
        [
            "trigger_seq": .number(Number(Int(triggerSeq))), "amount": .string(settlement.amount.decimalText),
            "currency": .string(settlement.amount.currency.code), "status": .string(settlement.status.rawValue),
            "maker": .string(settlement.maker),
        ]
    }
}

extension SettlementCalculation {
    /// Every step of the calculation as JSON: `exact`, `capped`, `rounding` {mode, adjustment},
    /// `postings` [{debit, credit, amount}] and, when approval is needed, `approval`.
    public func detail(rule: SettlementRule) -> JSONValue {
        var detail: [String: JSONValue] = [
            "exact": .string(exact.description), "capped": .string(capped.description),
            "rounding": [
                "mode": .string(rule.rounding.rawValue), "adjustment": .string(roundingAdjustment.description),
            ],
            "postings": .array(
                postings.map { posting in
                    [
                        "debit": .string(posting.debit), "credit": .string(posting.credit),
                        "amount": .string(posting.amount.decimalText),
                    ]
                }),
        ]
        if let approval = rule.approval, needsApproval {
            detail["approval"] = [
                "above": .string(approval.above.description), "approvers": .number(Number(approval.approvers)),
                "role": .string(approval.role),
            ]
        }
        return .object(detail)
    }
}
