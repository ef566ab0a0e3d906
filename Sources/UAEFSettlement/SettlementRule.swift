import UAEFCore

/// A rule that turns an outcome (an event) into money moving between two accounts.
public struct SettlementRule: Sendable, Hashable {
    public var id: String
    public var description: String?
    /// The event type that triggers it: `task.succeeded`, `task.failed`, `run.succeeded`,
    /// `run.failed` or `signal.<name>`.
    public var on: String
    public var match: Match
    public var amount: Amount
    /// Caps applied to the exact amount before rounding.
    public var minimum: Number?
    public var maximum: Number?
    public var currency: Currency
    public var rounding: RoundingMode
    /// The account paying (debited).
    public var from: String
    /// Who receives: one account, or shares of the amount.
    public var to: Destination
    public var approval: ApprovalPolicy?

    /// Which triggering events the rule applies to; every given field must match.
    public struct Match: Sendable, Hashable {
        public var workflow: String?
        public var task: String?
        public var capability: String?
        public var agent: String?
        /// A `${{ … }}` expression over the rule context that must be true.
        public var when: ValueTemplate?

        public init(
            workflow: String? = nil, task: String? = nil, capability: String? = nil, agent: String? = nil,
            when: ValueTemplate? = nil
        ) {
            self.workflow = workflow
            self.task = task
            self.capability = capability
            self.agent = agent
            self.when = when
        }
    }

    /// How the amount (in major units) is computed.
    public enum Amount: Sendable, Hashable {
        case fixed(Number)
        /// rate × quantity.
        case perUnit(rate: Number, quantity: ValueTemplate)
        /// rate percent of a base.
        case percent(rate: Number, of: ValueTemplate)
        case tiered(Tiered)
        /// Any expression of the engine's language that gives a number.
        case formula(ValueTemplate)
    }

    /// Tiered pricing over a quantity.
    public struct Tiered: Sendable, Hashable {
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// Each tier prices the units that fall in it, plus its flat fee once any unit does.
            case graduated
            /// The tier the whole quantity falls in prices every unit, plus its flat fee.
            case volume
        }

        public var mode: Mode
        public var quantity: ValueTemplate
        /// Ascending bounds; the last tier is unbounded.
        public var tiers: [Tier]
    }

    /// Units up to and including `upTo` (nil: no bound) cost `unit` each, plus `flat`.
    public struct Tier: Sendable, Hashable {
        public var upTo: Number?
        public var unit: Number
        public var flat: Number
    }

    /// Where the money goes.
    public enum Destination: Sendable, Hashable {
        case account(String)
        case split([Share])
    }

    /// One part of a split.
    public struct Share: Sendable, Hashable {
        public enum Portion: Sendable, Hashable {
            /// This percentage of the whole, floored to the minor unit.
            case percent(Number)
            /// What the other shares leave.
            case remaining
        }

        public var to: String
        public var portion: Portion
    }

    /// Amounts above a threshold wait for approvers.
    public struct ApprovalPolicy: Sendable, Hashable {
        /// Amounts strictly above this (in major units) need approval.
        public var above: Number
        /// Distinct principals needed.
        public var approvers: Int
        /// The role each approver must hold.
        public var role: String
        /// How long the approval may wait before the settlement expires.
        public var expires: Duration?
    }
}
