import Foundation
import Testing
import UAEFCore
import UAEFSettlement

@Suite("Settlement rules")
struct RuleTests {
    /// The accounts every test file declares, in `currency`.
    static func accounts(_ currency: String) -> String {
        let names = ["expense:ops", "agent:ocr", "a", "b", "c", "agent", "platform", "x", "y"]
        return "accounts:\n" + names.map { "  - {id: \"\($0)\", type: liability, currency: \(currency)}\n" }.joined()
    }

    static func rules(_ yaml: String, currency: String = "EUR") throws(ValidationFailure) -> [SettlementRule] {
        try RulesParser.parse(accounts(currency) + yaml, file: "rules.yaml").rules
    }

    static func trigger(type: String = "task.succeeded", output: JSONValue = [:], task: String = "extract")
        -> RuleTrigger
    {
        RuleTrigger(context: [
            "event": ["type": .string(type), "seq": 7], "run": ["id": "run_1", "workflow": "invoice"],
            "task": ["id": .string(task), "capability": "extraction", "agent": "ocr-1"], "output": output,
            "inputs": ["total": .number(Number(parsing: "1249.90")!)],
        ])
    }

    static func rule(amount: String, extra: String = "", to: String = "to: agent:ocr") throws -> SettlementRule {
        try rules(
            """
            rules:
              - id: r
                on: task.succeeded
                amount: \(amount)
                currency: EUR
                from: expense:ops
                \(to)
                \(extra)
            """
        )[0]
    }

    @Test("per unit, percent, fixed and formula amounts, rounded once at the minor unit")
    func amounts() throws {
        let pages = Self.trigger(output: ["pages": 7])
        let perUnit = try Self.rule(amount: #"{per_unit: {rate: "0.125", quantity: "${{ output.pages }}"}}"#)
        #expect(try perUnit.calculate(pages).money.decimalText == "0.88")  // 0.875 → half even → 0.88
        #expect(try perUnit.calculate(pages).roundingAdjustment == Number(parsing: "0.005"))
        let percent = try Self.rule(amount: #"{percent: {rate: "2.5", of: "${{ inputs.total }}"}}"#)
        #expect(try percent.calculate(pages).money.decimalText == "31.25")  // 31.2475
        let fixed = try Self.rule(amount: #"{fixed: "12.50"}"#)
        #expect(
            try fixed.calculate(pages).postings == [
                Posting(
                    debit: "expense:ops", credit: "agent:ocr",
                    amount: Money(minorUnits: 1250, currency: .init(code: "EUR")!))
            ])
        let formula = try Self.rule(amount: #"{formula: "${{ output.pages * 2 + 0.005 }}"}"#, extra: "rounding: up")
        #expect(try formula.calculate(pages).money.decimalText == "14.01")
        // A quantity that is not a number is named, with the rule and the field.
        #expect(
            throws: SettlementError(
                rule: "r", field: "amount.per_unit.quantity", message: "gave null, expected a number")
        ) {
            try perUnit.calculate(Self.trigger())
        }
    }

    @Test("min and max caps apply to the exact amount before rounding")
    func caps() throws {
        let rule = try Self.rule(
            amount: #"{per_unit: {rate: "0.01", quantity: "${{ output.pages }}"}}"#, extra: "min: \"0.50\"\n    max: 2")
        #expect(try rule.calculate(Self.trigger(output: ["pages": 3])).money.decimalText == "0.50")
        #expect(try rule.calculate(Self.trigger(output: ["pages": 150])).money.decimalText == "1.50")
        #expect(try rule.calculate(Self.trigger(output: ["pages": 900])).money.decimalText == "2.00")
    }

    static let tiers = """
        {tiered: {mode: MODE, quantity: "${{ output.pages }}", tiers: [
          {up_to: 100, unit: "0.10"}, {up_to: 1000, unit: "0.05", flat: "2"}, {up_to: null, unit: "0.01"}]}}
        """

    /// (mode, quantity, expected amount).
    static let tierCases: [(String, Int, String)] = [
        ("graduated", 0, "0.00"), ("graduated", 100, "10.00"), ("graduated", 101, "12.05"),
        ("graduated", 1000, "57.00"), ("graduated", 1001, "57.01"), ("volume", 0, "0.00"), ("volume", 100, "10.00"),
        ("volume", 101, "7.05"), ("volume", 1000, "52.00"), ("volume", 1001, "10.01"),
    ]

    @Test("graduated and volume tiers at and around the tier edges", arguments: tierCases)
    func tiered(mode: String, quantity: Int, expected: String) throws {
        let rule = try Self.rule(amount: Self.tiers.replacingOccurrences(of: "MODE", with: mode))
        #expect(
            try rule.calculate(Self.trigger(output: ["pages": .number(Number(quantity))])).money.decimalText == expected
        )
    }

    @Test("split shares are floored and the leftover minor units go out in declaration order")
    func splits() throws {
        let thirds = try Self.rule(
            amount: #"{fixed: "100.00"}"#,
            to: """
                split: [{to: a, share: "33.33%"}, {to: b, share: "33.33%"}, {to: c, share: "33.34%"}]
                """)
        #expect(try thirds.calculate(Self.trigger()).postings.map(\.amount.decimalText) == ["33.33", "33.33", "33.34"])
        let uneven = try Self.rule(
            amount: #"{fixed: "0.10"}"#,
            to: #"split: [{to: a, share: "33.3%"}, {to: b, share: "33.3%"}, {to: c, share: "33.4%"}]"#)
        // 0.0333 + 0.0333 + 0.0334 floor to 3 + 3 + 3 cents; the leftover cent goes to the first.
        #expect(try uneven.calculate(Self.trigger()).postings.map(\.amount.minorUnits) == [4, 3, 3])
        let remaining = try Self.rule(
            amount: #"{fixed: "-12.35"}"#, to: #"split: [{to: agent, share: "85%"}, {to: platform, share: remaining}]"#)
        let parts = try remaining.calculate(Self.trigger()).postings
        #expect(parts.map(\.amount.minorUnits) == [-1049, -186])
        #expect(parts.map(\.credit) == ["agent", "platform"])
    }

    @Test("a rule matches on event type, the match fields and when")
    func matching() throws {
        let rule = try Self.rules(
            """
            rules:
              - id: big-docs
                on: task.succeeded
                match: {workflow: invoice, task: extract, capability: extraction, when: "${{ output.pages > 10 }}"}
                amount: {fixed: 1}
                currency: USD
                from: a
                to: b
            """, currency: "USD")[0]
        #expect(try rule.matches(Self.trigger(output: ["pages": 11])))
        #expect(try !rule.matches(Self.trigger(output: ["pages": 10])))
        #expect(try !rule.matches(Self.trigger(type: "task.failed", output: ["pages": 11])))
        #expect(try !rule.matches(Self.trigger(output: ["pages": 11], task: "classify")))
    }

    @Test("approval applies above the threshold only")
    func approval() throws {
        let rule = try Self.rule(
            amount: #"{formula: "${{ inputs.total }}"}"#,
            extra: #"approval: {above: "1000.00", approvers: 2, role: finance, expires: 72h}"#)
        #expect(try rule.calculate(Self.trigger()).needsApproval)
        let small = try Self.rule(
            amount: #"{fixed: "1000.00"}"#, extra: #"approval: {above: "1000.00", role: finance}"#)
        #expect(try !small.calculate(Self.trigger()).needsApproval)
    }

    /// (rules YAML fragment for one rule, an expected message part).
    static let invalid: [(String, String)] = [
        ("on: task.done", #"rules[0].on: "task.done" is not a triggering event"#),
        ("currency: EURO", #"rules[0].currency: "EURO" is not an active ISO 4217 currency code"#),
        ("rounding: nearest", #"rules[0].rounding: "nearest" is not a rounding mode; valid: half_even"#),
        ("amount: {fixed: 1, formula: \"${{ 2 }}\"}", "rules[0].amount: give exactly one of fixed"),
        ("amount: {fixed: twelve}", #"rules[0].amount.fixed: expected a decimal amount such as "12.50""#),
        ("amount: {formula: \"${{ tasks.x.output }}\"}", "reads tasks.x.output, but rule expressions can read event"),
        ("amount: {formula: \"${{ 1 + }}\"}", "rules[0].amount.formula: invalid expression"),
        ("to: \"Bad Account\"", #"rules[0].to: "Bad Account" is not a valid account name"#),
        ("split: [{to: a, share: \"60%\"}, {to: b, share: \"30%\"}]", "the shares add up to 90%; make them 100%"),
        ("split: [{to: a, share: remaining}, {to: b, share: remaining}]", "at most one share may be remaining"),
        ("split: [{to: a, share: \"120%\"}]", "expected a percentage above 0% and at most 100%"),
        ("min: 5\n    max: 2", "rules[0].max: max 2 is below min 5"),
        ("approval: {above: 10}", "rules[0].approval.role: required"),
        ("match: {task: x}\n    on: run.succeeded", "rules[0].match.task: matches task events only"),
        ("colour: blue", "unknown key 'colour'"),
        ("to: nowhere", #"rules[0]: account "nowhere" is not declared under accounts"#),
        (
            "amount: {tiered: {mode: graduated, quantity: 1, tiers: [{up_to: 10, unit: 1}, {up_to: 5, unit: 1}]}}",
            "bounds must increase"
        ),
        (
            "amount: {tiered: {mode: flat, quantity: 1, tiers: [{up_to: 10, unit: 1}]}}",
            "the last tier must be unbounded"
        ),
    ]

    @Test("each error names the file, the line, the field and what is valid", arguments: invalid)
    func validation(fragment: String, expected: String) throws {
        var fields = [
            "id": "id: r", "on": "on: task.succeeded", "amount": "amount: {fixed: 1}", "currency": "currency: EUR",
            "from": "from: a", "to": "to: b",
        ]
        // The fragment replaces the defaults for the keys it gives (a split replaces to).
        for line in fragment.split(separator: "\n") {
            let key = String(line.trimmingCharacters(in: .whitespaces).prefix { $0 != ":" })
            fields[key == "split" ? "to" : key] = nil
        }
        let body = (fields.values.sorted() + [fragment]).map { "    " + $0 }.joined(separator: "\n")
        let text = "rules:\n  - " + body.dropFirst(4)
        do {
            _ = try Self.rules(String(text))
            Issue.record("accepted:\n\(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
            #expect(error.issues.allSatisfy { $0.file == "rules.yaml" && $0.line != nil })
        }
    }

    @Test("accounts are declared with a type, a currency and an optional limit, in the rules' currency")
    func accountValidation() throws {
        let file = try RulesParser.parse(
            """
            accounts:
              - {id: cash, type: asset, currency: EUR, limit: debits_must_not_exceed_credits}
              - {id: "agent:ocr", type: liability, currency: EUR}
            rules:
              - {id: r, on: run.succeeded, amount: {fixed: 1}, currency: EUR, from: cash, to: "agent:ocr"}
            """, file: "rules.yaml")
        #expect(file.accounts.map(\.id) == ["cash", "agent:ocr"])
        #expect(file.accounts[0].limit == .debitsMustNotExceedCredits && file.accounts[0].kind.isDebitNormal)
        let bad = """
            accounts:
              - {id: cash, type: assets, currency: EUR, limit: never}
              - {id: cash, type: asset, currency: JPY}
              - {id: yen, type: asset, currency: JPY}
            rules:
              - {id: r, on: run.succeeded, amount: {fixed: 1}, currency: EUR, from: cash, to: yen}
            """
        do {
            _ = try RulesParser.parse(bad, file: "rules.yaml")
            Issue.record("accepted")
        } catch {
            let text = error.description
            #expect(text.contains(#"rules.yaml:2: accounts[0].type: "assets" is not an account type; valid: asset"#))
            #expect(text.contains(#"accounts[0].limit: "never" is not an account limit"#))
            #expect(text.contains(#"rules.yaml:3: accounts[1].id: duplicate account "cash""#))
            #expect(text.contains(#"the rule pays in EUR but account "yen" holds JPY"#))
        }
    }

    @Test("every problem is reported at once, duplicates included")
    func allProblems() {
        let text = """
            rules:
              - id: a
                on: task.succeeded
                amount: {fixed: 1}
                currency: EUR
                from: x
                to: y
              - id: a
                on: run.failed
                amount: {}
                from: x
            """
        #expect(throws: ValidationFailure.self) { try Self.rules(text) }
        do { _ = try Self.rules(text) } catch {
            let messages = error.issues.map(\.description)
            #expect(messages.contains { $0.contains("rules[1].id: duplicate rule id \"a\" (first at line 12)") })
            #expect(messages.contains { $0.contains("rules[1].amount: give exactly one of") })
            #expect(messages.contains { $0.contains("rules[1].currency: required") })
            #expect(messages.contains { $0.contains("rules[1].to: required") })
        }
    }
}
