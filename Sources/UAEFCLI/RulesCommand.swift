import ArgumentParser
import Foundation
import UAEFCore
import UAEFEngine
import UAEFSettlement
import UAEFStore

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Settlement rules: how workflow outcomes turn into money moving between accounts.",
        discussion: "A rules file declares accounts and rules; see docs/settlements.md for the format.",
        subcommands: [Validate.self, Load.self, List.self])

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
                throw Console.printInvalid(failure)
            }
        }
    }
}

struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Settle workflow outcomes by the loaded rules.",
        subcommands: [Run.self, Simulate.self])

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
            var value = calculation.detail(rule: rule).objectValue ?? [:]
            value.merge([
                "rule": .string(rule.id), "matched": true, "amount": .string(calculation.money.decimalText),
                "currency": .string(calculation.money.currency.code),
                "needs_approval": .bool(calculation.needsApproval),
            ]) { _, new in new }
            return .object(value)
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

extension RulesCommand {
    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rules file and make it the active rule set, creating the accounts it declares.",
            discussion: """
                Nothing is stored when the file is invalid (exit 2, every problem listed) or when an account \
                exists with another type or currency. Events from now on are settled by these rules; so are \
                events not yet settled (settlement reads the log from where it stopped).
                """)
        @Argument(help: "The rules file (YAML or JSON).") var file: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var engineOptions: EngineOptions

        func run() async throws {
            let engine = try await engineOptions.engine()
            let (version, rules) = try await engine.loadRules(
                try Console.readFile(file), file: file, actor: CLIActor.current)
            if json {
                Console.printJSON([
                    "version": .number(Number(version)), "rules": .array(rules.rules.map { .string($0.id) }),
                    "accounts": .array(rules.accounts.map { .string($0.id) }),
                ])
            } else {
                print(
                    "loaded \(file) as rule set \(version): \(rules.rules.count) rules, \(rules.accounts.count) accounts"
                )
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the active rules.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            guard let ruleSet = try await storeOptions.open().activeRuleSet(tenant: storeOptions.tenant) else {
                if json { Console.printJSON(.array([])) } else { print("no rules loaded; use uaef rules load FILE") }
                return
            }
            let rules = try RulesParser.parse(ruleSet.source, file: ruleSet.file).rules
            if json {
                Console.printJSON(
                    .array(
                        rules.map { rule in
                            [
                                "id": .string(rule.id), "on": .string(rule.on), "currency": .string(rule.currency.code),
                                "description": rule.description.map(JSONValue.string) ?? .null,
                                "version": .number(Number(ruleSet.version)),
                            ]
                        }))
                return
            }
            print("rule set \(ruleSet.version) from \(ruleSet.file), loaded \(Timestamp.format(ruleSet.loadedAt))")
            for rule in rules { print("  \(rule.id)  on \(rule.on)  \(rule.currency)  \(rule.description ?? "")") }
        }
    }
}
