import UAEFCore

/// Why the journal refused a transfer.
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    case exceedsCredits(account: String)
    case exceedsDebits(account: String)
    case overflow

    public var description: String {
        switch self {
        case .exceedsCredits(let account):
            "account \(account) may not be debited beyond its posted credits (debits_must_not_exceed_credits)"
        case .exceedsDebits(let account):
            "account \(account) may not be credited beyond its posted debits (credits_must_not_exceed_debits)"
        case .overflow: "the balance would overflow"
        }
    }
}

/// Moves a transfer's amount between two balances; every change keeps debits equal to credits.
public enum Journal {
    /// Applies a new transfer of `amount` (minor units, positive) in `phase` (pending or posted).
    public static func open(
        _ amount: Int64, phase: TransferPhase, debit: inout AccountBalance, debitAccount: AccountDefinition,
        credit: inout AccountBalance, creditAccount: AccountDefinition
    ) throws(JournalError) {
        var (newDebit, newCredit) = (debit, credit)
        switch phase {
        case .pending:
            newDebit.debitsPending = try add(newDebit.debitsPending, amount)
            newCredit.creditsPending = try add(newCredit.creditsPending, amount)
        case .posted:
            newDebit.debitsPosted = try add(newDebit.debitsPosted, amount)
            newCredit.creditsPosted = try add(newCredit.creditsPosted, amount)
        case .voided:
            return
        }
        try check(newDebit, debitAccount)
        try check(newCredit, creditAccount)
        (debit, credit) = (newDebit, newCredit)
    }

    /// Finishes a pending transfer: `posted` moves it from pending to posted, `voided` releases it.
    public static func finish(
        _ amount: Int64, as phase: TransferPhase, debit: inout AccountBalance, credit: inout AccountBalance
    ) throws(JournalError) {
        debit.debitsPending -= amount
        credit.creditsPending -= amount
        if phase == .posted {
            debit.debitsPosted = try add(debit.debitsPosted, amount)
            credit.creditsPosted = try add(credit.creditsPosted, amount)
        }
    }

    private static func add(_ a: Int64, _ b: Int64) throws(JournalError) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw .overflow }
        return sum
    }

    private static func check(_ balance: AccountBalance, _ account: AccountDefinition) throws(JournalError) {
        switch account.limit {
        case .debitsMustNotExceedCredits?:
            guard Int128(balance.debitsPosted) + Int128(balance.debitsPending) <= Int128(balance.creditsPosted) else {
                throw .exceedsCredits(account: account.id)
            }
        case .creditsMustNotExceedDebits?:
            guard Int128(balance.creditsPosted) + Int128(balance.creditsPending) <= Int128(balance.debitsPosted) else {
                throw .exceedsDebits(account: account.id)
            }
        case nil: break
        }
    }
}
