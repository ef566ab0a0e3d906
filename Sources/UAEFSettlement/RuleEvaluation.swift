import UAEFCore

/// The facts a rule sees about one triggering event, as one JSON object:
/// `{"event": {"seq", "type", "subject", "actor", "time", "data"}, "run": {"id", "workflow"},
/// "task": {"id", "key", "capability", "agent", "attempt"}, "output": …, "inputs": {…}}`.
/// Rule expressions read it (`${{ output.pages }}`), and `match` compares its fields.
public struct RuleTrigger: Sendable, Hashable {
    public var context: [String: JSONValue]

    public init(context: [String: JSONValue]) { self.context = context }

    public var eventType: String? { context["event"]?["type"]?.stringValue }
    public var workflow: String? { context["run"]?["workflow"]?.stringValue }
    public var task: String? { context["task"]?["id"]?.stringValue }
    public var capability: String? { context["task"]?["capability"]?.stringValue }
    public var agent: String? { context["task"]?["agent"]?.stringValue }
}

/// A transfer of `amount` from the debited account to the credited one.
public struct Posting: Sendable, Hashable {
    public var debit: String
    public var credit: String
    public var amount: Money

    public init(debit: String, credit: String, amount: Money) {
        self.debit = debit
        self.credit = credit
        self.amount = amount
    }
}

/// A rule applied to one event: every step from the exact amount to the postings.
public struct SettlementCalculation: Sendable, Hashable {
    public var ruleID: String
    /// The amount as the rule computes it, before caps.
    public var exact: Number
    /// After `min` and `max`.
    public var capped: Number
    /// Rounded once, at the currency's minor unit.
    public var money: Money
    /// `money − capped`: what rounding added (negative when it took away).
    public var roundingAdjustment: Number
    /// The transfers, whose parts add up to `money`.
    public var postings: [Posting]
    /// True when the amount is above the rule's approval threshold.
    public var needsApproval: Bool
}

/// A rule could not be applied to an event: which rule, which field, and why.
public struct SettlementError: Error, Sendable, Equatable, CustomStringConvertible {
    public var rule: String
    public var field: String
    public var message: String

    public init(rule: String, field: String, message: String) {
        self.rule = rule
        self.field = field
        self.message = message
    }

    public var description: String { "rule \(rule): \(field): \(message)" }
}

extension SettlementRule {
    /// 0.01, exactly: percentages multiply by it (multiplying is exact where dividing rounds).
    static let hundredth = Number(1, powerOfTen: -2)

    /// Whether the rule applies to the event: its type, every `match` field, then `when`.
    public func matches(_ trigger: RuleTrigger) throws(SettlementError) -> Bool {
        guard trigger.eventType == on else { return false }
        let required: [(String?, String?)] = [
            (match.workflow, trigger.workflow), (match.task, trigger.task),
            (match.capability, trigger.capability), (match.agent, trigger.agent),
        ]
        guard required.allSatisfy({ wanted, actual in wanted == nil || wanted == actual }) else { return false }
        guard let when = match.when else { return true }
        switch try evaluate(when, "match.when", trigger) {
        case .bool(let flag): return flag
        case let other:
            throw SettlementError(
                rule: id, field: "match.when", message: "gave \(other.typeName), expected true or false")
        }
    }

    /// Computes the settlement for an event the rule matches.
    public func calculate(_ trigger: RuleTrigger) throws(SettlementError) -> SettlementCalculation {
        let exact = try exactAmount(trigger)
        var capped = exact
        if let minimum, capped < minimum { capped = minimum }
        if let maximum, capped > maximum { capped = maximum }
        let units: Int64
        do { units = try rounding.minorUnits(of: capped, in: currency) } catch {
            throw SettlementError(rule: id, field: "amount", message: error.description)
        }
        let money = Money(minorUnits: units, currency: currency)
        let adjustment = try arithmetic("amount") { () throws(NumberError) in try money.amount - capped }
        return SettlementCalculation(
            ruleID: id, exact: exact, capped: capped, money: money, roundingAdjustment: adjustment,
            postings: postings(of: money), needsApproval: approval.map { money.amount > $0.above } ?? false)
    }

    private func exactAmount(_ trigger: RuleTrigger) throws(SettlementError) -> Number {
        switch amount {
        case .fixed(let value):
            return value
        case .perUnit(let rate, let quantity):
            let units = try number(quantity, "amount.per_unit.quantity", trigger)
            return try arithmetic("amount.per_unit") { () throws(NumberError) in try rate * units }
        case .percent(let rate, let base):
            let of = try number(base, "amount.percent.of", trigger)
            return try arithmetic("amount.percent") { () throws(NumberError) in try rate * of * Self.hundredth }
        case .tiered(let tiered):
            let quantity = try number(tiered.quantity, "amount.tiered.quantity", trigger)
            guard quantity >= Number(0) else {
                throw SettlementError(
                    rule: id, field: "amount.tiered.quantity",
                    message: "is \(quantity); a tiered quantity cannot be negative")
            }
            return try arithmetic("amount.tiered") { () throws(NumberError) in try tiered.price(quantity) }
        case .formula(let formula):
            return try number(formula, "amount.formula", trigger)
        }
    }

    private func evaluate(_ template: ValueTemplate, _ field: String, _ trigger: RuleTrigger) throws(SettlementError)
        -> JSONValue
    {
        do { return try template.render(in: trigger.context) } catch {
            throw SettlementError(rule: id, field: field, message: error.description)
        }
    }

    /// A template's value as a number: a number, or a string holding a decimal number.
    private func number(_ template: ValueTemplate, _ field: String, _ trigger: RuleTrigger) throws(SettlementError)
        -> Number
    {
        switch try evaluate(template, field, trigger) {
        case .number(let value): return value
        case .string(let text):
            if let value = Number(parsing: text) { return value }
            throw SettlementError(rule: id, field: field, message: "gave \"\(text)\", which is not a decimal number")
        case let other:
            throw SettlementError(rule: id, field: field, message: "gave \(other.typeName), expected a number")
        }
    }

    private func arithmetic(_ field: String, _ compute: () throws(NumberError) -> Number) throws(SettlementError)
        -> Number
    {
        do { return try compute() } catch { throw SettlementError(rule: id, field: field, message: error.description) }
    }

    /// The transfers for `money`: one, or one per share. Shares are floored to the minor unit;
    /// a `remaining` share takes what the others leave, and without one the leftover minor
    /// units go one by one to the shares in declaration order, so the parts add up to the whole.
    func postings(of money: Money) -> [Posting] {
        switch to {
        case .account(let account):
            return [Posting(debit: from, credit: account, amount: money)]
        case .split(let shares):
            let total = money.minorUnits.magnitude
            var parts: [UInt64] = shares.map { share in
                guard case .percent(let rate) = share.portion else { return 0 }
                // total × rate / 100, floored; Decimal keeps it exact for any Int64 total.
                let exact = (try? Number(Int64(total), powerOfTen: 0) * rate * Self.hundredth) ?? Number(0)
                return UInt64(exact.truncated.intValue ?? 0)
            }
            // Each part is floored, so they never exceed the whole; clamp all the same.
            let assigned = parts.reduce(UInt64(0)) { $0 &+ $1 }
            var leftover = total >= assigned ? total - assigned : 0
            if let remaining = shares.firstIndex(where: { $0.portion == .remaining }) {
                parts[remaining] += leftover
            } else {
                var index = 0
                while leftover > 0 {
                    parts[index % parts.count] += 1
                    leftover -= 1
                    index += 1
                }
            }
            return zip(shares, parts).map { share, part in
                let signed = money.minorUnits < 0 ? -Int64(part) : Int64(part)
                return Posting(
                    debit: from, credit: share.to, amount: Money(minorUnits: signed, currency: money.currency))
            }
        }
    }
}

extension SettlementRule.Tiered {
    /// The price of `quantity` units (not negative).
    func price(_ quantity: Number) throws(NumberError) -> Number {
        switch mode {
        case .volume:
            let tier = tiers.first { $0.upTo.map { quantity <= $0 } ?? true } ?? tiers[tiers.count - 1]
            return try quantity * tier.unit + tier.flat
        case .graduated:
            var total = Number(0)
            var lower = Number(0)
            for tier in tiers where quantity > lower {
                let upper = tier.upTo.map { Swift.min($0, quantity) } ?? quantity
                total = try total + (upper - lower) * tier.unit + tier.flat
                guard let bound = tier.upTo else { break }
                lower = bound
            }
            return total
        }
    }
}
