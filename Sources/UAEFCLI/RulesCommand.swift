import ArgumentParser
import Foundation
import UAEFCore
import UAEFSettlement

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Settlement rules: how workflow outcomes turn into money moving between accounts.",
        discussion: "A rules file declares accounts and rules; see docs/settlements.md for the format.",
        subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a rules file completely without storing anything.",
            discussion: "Exit 0 when valid, 2 with every problem listed (file:line: field: message) when not.")
        @Argument(help: "The rules file (YAML or JSON).") var file: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            do {
                let rules = try RulesParser.parse(try Console.readFile(file), file: file)
                if json {
                    Console.printJSON([
                        "valid": true, "accounts": .array(rules.accounts.map { .string($0.id) }),
                        "rules": .array(rules.rules.map { .string($0.id) }),
                    ])
                } else {
                    print("\(file): valid: \(rules.accounts.count) accounts, \(rules.rules.count) rules")
                }
            } catch let failure as ValidationFailure where json {
                Console.printInvalid(failure)
            }
        }
    }
}

struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Settle workflow outcomes by the loaded rules.",
        subcommands: [Simulate.self])

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dry run: what each rule of a file would settle for one event, step by step.",
            discussion: """
                The event file is the object rule expressions see: {"event": {"type", "seq", "data", …}, \
                "run": {"id", "workflow"}, "task": {"id", "capability", "agent", …}, "output": …, "inputs": {…}}. \
                Prints, per rule, whether it matches and, when it does, the exact amount, the caps, the rounding \
                applied, the postings and whether approval is needed. Nothing is stored.
                """)
        @Option(help: "The rules file.") var rules: String
        @Option(help: "The event, as a JSON file.") var event: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let file = try RulesParser.parse(try Console.readFile(rules), file: rules)
            let context: [String: JSONValue]
            do {
                guard case .object(let members) = try JSONValue(jsonText: try Console.readFile(event)) else {
                    throw CLIError.usage("\(event): expected a JSON object with event, run, task, output and inputs")
                }
                context = members
            } catch let error as JSONTextError {
                throw CLIError.usage("\(event): \(error)")
            }
            let trigger = RuleTrigger(context: context)
            var results: [JSONValue] = []
            for rule in file.rules {
                do {
                    guard try rule.matches(trigger) else {
                        results.append(["rule": .string(rule.id), "matched": false])
                        continue
                    }
                    results.append(Self.json(try rule.calculate(trigger), rule: rule))
                } catch {
                    results.append(["rule": .string(rule.id), "matched": true, "error": .string(error.description)])
                }
            }
            if json {
                Console.printJSON(.array(results))
                return
            }
            for result in results { print(Self.line(result)) }
        }

        static func json(_ calculation: SettlementCalculation, rule: SettlementRule) -> JSONValue {
            [
                "rule": .string(rule.id), "matched": true, "amount": .string(calculation.money.decimalText),
                "currency": .string(calculation.money.currency.code), "exact": .string(calculation.exact.description),
                "capped": .string(calculation.capped.description),
                "rounding": [
                    "mode": .string(rule.rounding.rawValue),
                    "adjustment": .string(calculation.roundingAdjustment.description),
                ],
                "postings": .array(
                    calculation.postings.map { posting in
                        [
                            "debit": .string(posting.debit), "credit": .string(posting.credit),
                            "amount": .string(posting.amount.decimalText),
                        ]
                    }),
                "needs_approval": .bool(calculation.needsApproval),
            ]
        }

        static func line(_ result: JSONValue) -> String {
            let rule = result["rule"]?.stringValue ?? "?"
            if let error = result["error"]?.stringValue { return "\(rule): error: \(error)" }
            guard result["matched"] == true, let amount = result["amount"]?.stringValue,
                let currency = result["currency"]?.stringValue
            else { return "\(rule): does not match" }
            let postings = (result["postings"]?.arrayValue ?? []).map { posting in
                "\(posting["debit"]?.stringValue ?? "") → \(posting["credit"]?.stringValue ?? "") \(posting["amount"]?.stringValue ?? "")"
            }
            let approval = result["needs_approval"] == true ? ", needs approval" : ""
            return
                "\(rule): \(amount) \(currency) (exact \(result["exact"]?.stringValue ?? ""), rounding \(result["rounding"]?["adjustment"]?.stringValue ?? "0"))\(approval): \(postings.joined(separator: "; "))"
        }
    }
}
