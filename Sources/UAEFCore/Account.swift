/// An account of the double-entry journal, as a rules file declares it.
public struct AccountDefinition: Sendable, Hashable {
    /// What the account represents; decides its normal balance.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case asset, liability, equity, revenue, expense

        /// Assets and expenses grow with debits; the others with credits.
        public var isDebitNormal: Bool { self == .asset || self == .expense }
    }

    /// A balance limit the journal enforces on every transfer (TigerBeetle's account flags).
    public enum Limit: String, Sendable, Hashable, CaseIterable {
        /// Debits (posted and pending) may never exceed posted credits: the account cannot be overdrawn.
        case debitsMustNotExceedCredits = "debits_must_not_exceed_credits"
        /// Credits (posted and pending) may never exceed posted debits.
        case creditsMustNotExceedDebits = "credits_must_not_exceed_debits"
    }

    /// e.g. `expense:extraction`, `agent:ocr-1`.
    public var id: String
    public var kind: Kind
    public var currency: Currency
    public var limit: Limit?

    public init(id: String, kind: Kind, currency: Currency, limit: Limit? = nil) {
        self.id = id
        self.kind = kind
        self.currency = currency
        self.limit = limit
    }
}

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
    /// Balances are wider than the four counters, so no stored counters can overflow them.
    public func posted(_ kind: AccountDefinition.Kind) -> Int128 {
        let (debits, credits) = (Int128(debitsPosted), Int128(creditsPosted))
        return kind.isDebitNormal ? debits - credits : credits - debits
    }

    /// The pending balance in the account's normal direction.
    public func pending(_ kind: AccountDefinition.Kind) -> Int128 {
        let (debits, credits) = (Int128(debitsPending), Int128(creditsPending))
        return kind.isDebitNormal ? debits - credits : credits - debits
    }

    /// What can still be spent: posted, less what pending transfers have reserved against it.
    /// Wider than a balance: it may lie below `Int64.min`.
    public func available(_ kind: AccountDefinition.Kind) -> Int128 {
        let (debits, credits) = (Int128(debitsPosted), Int128(creditsPosted))
        return kind.isDebitNormal
            ? debits - credits - Int128(creditsPending) : credits - debits - Int128(debitsPending)
    }

    /// All debits less all credits, posted and pending, without overflow.
    public var net: Int128 {
        Int128(debitsPosted) - Int128(creditsPosted) + Int128(debitsPending) - Int128(creditsPending)
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
