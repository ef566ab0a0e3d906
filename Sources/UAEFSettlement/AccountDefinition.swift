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

/// A rules file: the accounts it declares and the rules that move money between them.
public struct RulesFile: Sendable, Hashable {
    public var accounts: [AccountDefinition]
    public var rules: [SettlementRule]
}
