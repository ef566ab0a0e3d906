import UAEFCore

/// A rules file: the accounts it declares and the rules that move money between them.
public struct RulesFile: Sendable, Hashable {
    public var accounts: [AccountDefinition]
    public var rules: [SettlementRule]
}
