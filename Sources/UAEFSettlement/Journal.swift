/// The balances of one journal account, in minor units, and the rules every transfer obeys
/// (TigerBeetle's model: two-phase transfers reserve as pending, then post or void).
public struct AccountBalance: Sendable, Hashable {
    public var debitsPosted: Int64 = 0
    public var creditsPosted: Int64 = 0
    public var debitsPending: Int64 = 0
    public var creditsPending: Int64 = 0

    public init(debitsPosted: Int64 = 0, creditsPosted: Int64 = 0, debitsPending: Int64 = 0, creditsPending: Int64 = 0)
    {
        self.debitsPosted = debitsPosted
        self.creditsPosted = creditsPosted
        self.debitsPending = debitsPending
        self.creditsPending = creditsPending
    }

    /// The posted balance in the account's normal direction (debits − credits for assets and expenses).
    public func posted(_ kind: AccountDefinition.Kind) -> Int64 {
        kind.isDebitNormal ? debitsPosted - creditsPosted : creditsPosted - debitsPosted
    }

    /// The pending balance in the account's normal direction.
    public func pending(_ kind: AccountDefinition.Kind) -> Int64 {
        kind.isDebitNormal ? debitsPending - creditsPending : creditsPending - debitsPending
    }

    /// What can still be spent: posted, less what pending transfers have reserved against it.
    public func available(_ kind: AccountDefinition.Kind) -> Int64 {
        kind.isDebitNormal
            ? debitsPosted - creditsPosted - creditsPending : creditsPosted - debitsPosted - debitsPending
    }
}

/// The phase a transfer is in.
public enum TransferPhase: String, Sendable, Hashable, CaseIterable {
    /// Reserved: counted as pending on both accounts.
    case pending
    /// Final.
    case posted
    /// A reservation released; nothing moved.
    case voided
}

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
            guard balance.debitsPosted + balance.debitsPending <= balance.creditsPosted else {
                throw .exceedsCredits(account: account.id)
            }
        case .creditsMustNotExceedDebits?:
            guard balance.creditsPosted + balance.creditsPending <= balance.debitsPosted else {
                throw .exceedsDebits(account: account.id)
            }
        case nil: break
        }
    }
}
