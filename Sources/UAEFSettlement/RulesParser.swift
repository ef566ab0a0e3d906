import UAEFCore

/// Reads and validates settlement rules (a rules file's `rules:` list, YAML or JSON) completely
/// before anything is stored: every problem is reported with its line, field and what is valid.
public enum RulesParser {
    /// Parses a rules file: `{"accounts": [ … ], "rules": [ … ]}`. Every account a rule names
    /// must be declared in the file, in the rule's currency.
    public static func parse(_ text: String, file: String) throws(ValidationFailure) -> RulesFile {
        let root: YAMLSource
        switch YAMLSource.parse(text, file: file) {
        case .success(let source): root = source
        case .failure(let issue): throw ValidationFailure(issues: [issue])
        }
        var reader = RuleReader(file: file)
        let rules = reader.readFile(root)
        guard reader.issues.isEmpty else {
            throw ValidationFailure(issues: reader.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return rules
    }
}

extension RulesParser {
    /// The `settlements:` section of a workflow file (the same shape as a rules file), or nil
    /// when the workflow has none. Its rules apply to that workflow's runs only.
    public static func parseSection(of root: YAMLSource, file: String) throws(ValidationFailure) -> RulesFile? {
        guard let section = root.entries?.first(where: { $0.key == "settlements" })?.value else { return nil }
        var reader = RuleReader(file: file, prefix: "settlements.")
        let rules = reader.readFile(section)
        guard reader.issues.isEmpty else { throw ValidationFailure(issues: reader.issues) }
        return rules
    }
}

/// One validation pass over a rules document.
struct RuleReader: DefinitionReading {
    static let ruleKeys: Set<String> = [
        "id", "description", "on", "match", "amount", "min", "max", "currency", "rounding", "from", "to", "split",
        "approval",
    ]
    static let matchKeys: Set<String> = ["workflow", "task", "capability", "agent", "when"]
    static let amountKinds = ["fixed", "per_unit", "percent", "tiered", "formula"]
    static let eventTypes = ["task.succeeded", "task.failed", "run.succeeded", "run.failed"]
    /// What rule expressions can read (see ``RuleTrigger``).
    static let contextRoots: Set<String> = ["event", "run", "task", "output", "inputs"]
    static let namePattern = "[a-z0-9_-]+"
    static let accountPattern = "[a-z0-9_.:-]+"

    let file: String
    /// Where the rules sit in the document: "" for a rules file, "settlements." in a workflow.
    let prefix: String
    var issues: [ValidationIssue] = []

    init(file: String, prefix: String = "") {
        self.file = file
        self.prefix = prefix
    }

    mutating func readFile(_ root: YAMLSource) -> RulesFile {
        guard
            let fields = mapping(
                root, field: prefix.isEmpty ? "" : String(prefix.dropLast()), allowed: ["accounts", "rules"])
        else {
            return RulesFile(accounts: [], rules: [])
        }
        let accounts = readAccounts(fields["accounts"], line: root.line)
        guard let list = fields["rules"]?.elements, !list.isEmpty else {
            report(prefix + "rules", fields["rules"]?.line ?? root.line, "required: a non-empty list of rules")
            return RulesFile(accounts: accounts, rules: [])
        }
        var rules: [SettlementRule] = []
        var lines: [String: Int?] = [:]
        for (index, element) in list.enumerated() {
            // Duplicates are found even among rules that have other problems.
            if let id = element.entries?.first(where: { $0.key == "id" })?.value.string {
                if let first = lines[id] {
                    report(
                        "\(prefix)rules[\(index)].id", element.line,
                        "duplicate rule id \"\(id)\" (first at line \(first.map(String.init) ?? "?"))")
                }
                lines[id] = element.line
            }
            if let rule = readRule(element, field: "\(prefix)rules[\(index)]") {
                checkAccounts(of: rule, field: "\(prefix)rules[\(index)]", line: element.line, declared: accounts)
                rules.append(rule)
            }
        }
        return RulesFile(accounts: accounts, rules: rules)
    }

    private mutating func readAccounts(_ source: YAMLSource?, line: Int?) -> [AccountDefinition] {
        guard let list = source?.elements, !list.isEmpty else {
            report(
                prefix + "accounts", source?.line ?? line, "required: a non-empty list of the accounts the rules use")
            return []
        }
        var accounts: [AccountDefinition] = []
        var seen: Set<String> = []
        for (index, element) in list.enumerated() {
            let field = "\(prefix)accounts[\(index)]"
            guard let fields = mapping(element, field: field, allowed: ["id", "type", "currency", "limit"]) else {
                continue
            }
            let before = issues.count
            let id = account(present(fields, "id", field, element, "the account name"), field: "\(field).id")
            if let id, !seen.insert(id).inserted {
                report("\(field).id", fields["id"]?.line, "duplicate account \"\(id)\"")
            }
            let kind = choice(
                present(fields, "type", field, element, "asset, liability, equity, revenue or expense"),
                field: "\(field).type", "an account type", as: AccountDefinition.Kind.self)
            let currency = readCurrency(fields, field: field, line: element.line)
            let limit = choice(
                fields["limit"], field: "\(field).limit", "an account limit", as: AccountDefinition.Limit.self)
            guard issues.count == before, let id, let kind, let currency else { continue }
            accounts.append(AccountDefinition(id: id, kind: kind, currency: currency, limit: limit))
        }
        return accounts
    }

    /// Every account the rule names is declared, in the rule's currency.
    private mutating func checkAccounts(
        of rule: SettlementRule, field: String, line: Int?, declared: [AccountDefinition]
    ) {
        var named = [rule.from]
        switch rule.to {
        case .account(let account): named.append(account)
        case .split(let shares): named += shares.map(\.to)
        }
        for name in named {
            guard let account = declared.first(where: { $0.id == name }) else {
                report(field, line, "account \"\(name)\" is not declared under accounts")
                continue
            }
            if account.currency != rule.currency {
                report(
                    field, line,
                    "the rule pays in \(rule.currency) but account \"\(name)\" holds \(account.currency); UAEF never converts currencies"
                )
            }
        }
    }

    /// One of a type's raw values; anything else is reported with the valid ones.
    private mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ source: YAMLSource?, field: String, _ what: String, as type: Choice.Type
    ) -> Choice? where Choice.RawValue == String {
        guard let source, let text = string(source, field: field) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let valid = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            report(field, source.line, "\"\(text)\" is not \(what); valid: \(valid)")
            return nil
        }
        return value
    }

    mutating func readRule(_ source: YAMLSource, field: String) -> SettlementRule? {
        guard let fields = mapping(source, field: field, allowed: Self.ruleKeys) else { return nil }
        let before = issues.count
        let id = required(fields, "id", field, source, "a rule id matching \(Self.namePattern)")
        if let id, !Self.isName(id) {
            report("\(field).id", fields["id"]?.line, "\"\(id)\" is not a valid rule id; use \(Self.namePattern)")
        }
        let description = string(fields["description"], field: "\(field).description")
        let on = required(fields, "on", field, source, "the triggering event type")
        if let on, !Self.eventTypes.contains(on), !Self.isSignal(on) {
            report(
                "\(field).on", fields["on"]?.line,
                "\"\(on)\" is not a triggering event; valid: \(Self.eventTypes.joined(separator: ", ")), signal.<name>")
        }
        let match = readMatch(fields["match"], field: "\(field).match", on: on)
        let amount = readAmount(fields["amount"], field: "\(field).amount", line: source.line)
        let minimum = decimal(fields["min"], field: "\(field).min")
        let maximum = decimal(fields["max"], field: "\(field).max")
        if let minimum, let maximum, minimum > maximum {
            report("\(field).max", fields["max"]?.line, "max \(maximum) is below min \(minimum)")
        }
        let currency = readCurrency(fields, field: field, line: source.line)
        let rounding = choice(fields["rounding"], field: "\(field).rounding", "a rounding mode", as: RoundingMode.self)
        let from = account(fields["from"], field: "\(field).from")
        if fields["from"] == nil { report("\(field).from", source.line, "required: the account that pays") }
        let destination = readDestination(fields, field: field, line: source.line)
        let approval = readApproval(fields["approval"], field: "\(field).approval")
        guard issues.count == before, let id, let on, let amount, let currency, let from, let destination else {
            return nil
        }
        return SettlementRule(
            id: id, description: description, on: on, match: match ?? .init(), amount: amount, minimum: minimum,
            maximum: maximum, currency: currency, rounding: rounding ?? .halfEven, from: from, to: destination,
            approval: approval)
    }

    private mutating func required(
        _ fields: [String: YAMLSource], _ key: String, _ field: String, _ parent: YAMLSource, _ what: String
    ) -> String? {
        guard let source = present(fields, key, field, parent, what) else { return nil }
        return string(source, field: "\(field).\(key)")
    }

    // MARK: Parts

    private mutating func readMatch(_ source: YAMLSource?, field: String, on: String?) -> SettlementRule.Match? {
        guard let source, let fields = mapping(source, field: field, allowed: Self.matchKeys) else { return nil }
        var match = SettlementRule.Match(
            workflow: string(fields["workflow"], field: "\(field).workflow"),
            task: string(fields["task"], field: "\(field).task"),
            capability: string(fields["capability"], field: "\(field).capability"),
            agent: string(fields["agent"], field: "\(field).agent"))
        if let on, !on.hasPrefix("task.") {
            for key in ["task", "capability", "agent"] where fields[key] != nil {
                report("\(field).\(key)", fields[key]?.line, "matches task events only; this rule is on \(on)")
            }
        }
        if let when = fields["when"] { match.when = expression(when, field: "\(field).when") }
        return match
    }

    private mutating func readAmount(_ source: YAMLSource?, field: String, line: Int?) -> SettlementRule.Amount? {
        guard let source else {
            report(field, line, "required: exactly one of \(Self.amountKinds.joined(separator: ", "))")
            return nil
        }
        guard let fields = mapping(source, field: field, allowed: Set(Self.amountKinds)) else { return nil }
        guard fields.count == 1, let (kind, value) = fields.first else {
            let given = fields.keys.sorted().joined(separator: ", ")
            report(
                field, source.line,
                "give exactly one of \(Self.amountKinds.joined(separator: ", "))\(given.isEmpty ? "" : "; found \(given)")"
            )
            return nil
        }
        let path = "\(field).\(kind)"
        switch kind {
        case "fixed":
            return decimal(value, field: path).map { .fixed($0) }
        case "per_unit":
            guard let parts = mapping(value, field: path, allowed: ["rate", "quantity"]) else { return nil }
            let rate = requiredDecimal(parts, "rate", path, value)
            let quantity = requiredExpression(parts, "quantity", path, value)
            guard let rate, let quantity else { return nil }
            return .perUnit(rate: rate, quantity: quantity)
        case "percent":
            guard let parts = mapping(value, field: path, allowed: ["rate", "of"]) else { return nil }
            let rate = requiredDecimal(parts, "rate", path, value)
            let base = requiredExpression(parts, "of", path, value)
            guard let rate, let base else { return nil }
            return .percent(rate: rate, of: base)
        case "tiered":
            return readTiered(value, field: path).map { .tiered($0) }
        default:
            return expression(value, field: path).map { .formula($0) }
        }
    }

    private mutating func readTiered(_ source: YAMLSource, field: String) -> SettlementRule.Tiered? {
        guard let fields = mapping(source, field: field, allowed: ["mode", "quantity", "tiers"]) else { return nil }
        let mode = choice(
            present(fields, "mode", field, source, "graduated or volume"), field: "\(field).mode", "a tier mode",
            as: SettlementRule.Tiered.Mode.self)
        let quantity = requiredExpression(fields, "quantity", field, source)
        var tiers: [SettlementRule.Tier] = []
        if let list = fields["tiers"]?.elements, !list.isEmpty {
            for (index, element) in list.enumerated() {
                let path = "\(field).tiers[\(index)]"
                guard let parts = mapping(element, field: path, allowed: ["up_to", "unit", "flat"]) else { continue }
                var upTo: Number?
                if let bound = parts["up_to"], case .success(let value) = bound.jsonValue(), value != .null {
                    upTo = decimal(bound, field: "\(path).up_to")
                } else if parts["up_to"] == nil {
                    report("\(path).up_to", element.line, "required: the tier's upper bound, or null for the last tier")
                }
                let unit = decimal(parts["unit"], field: "\(path).unit") ?? Number(0)
                let flat = decimal(parts["flat"], field: "\(path).flat") ?? Number(0)
                if parts["unit"] == nil && parts["flat"] == nil {
                    report(path, element.line, "give unit (price per unit in this tier), flat (a fee), or both")
                }
                tiers.append(.init(upTo: upTo, unit: unit, flat: flat))
                if let upTo, let previous = tiers.dropLast().last?.upTo, upTo <= previous {
                    report("\(path).up_to", parts["up_to"]?.line, "bounds must increase: \(upTo) follows \(previous)")
                }
            }
            for (index, tier) in tiers.enumerated().dropLast() where tier.upTo == nil {
                report("\(field).tiers[\(index)].up_to", list[index].line, "only the last tier may be unbounded (null)")
            }
            if tiers.last?.upTo != nil {
                report("\(field).tiers", fields["tiers"]?.line, "the last tier must be unbounded: up_to: null")
            }
        } else {
            report("\(field).tiers", fields["tiers"]?.line ?? source.line, "required: a non-empty list of tiers")
        }
        guard let mode, let quantity else { return nil }
        return .init(mode: mode, quantity: quantity, tiers: tiers)
    }

    private mutating func readCurrency(_ fields: [String: YAMLSource], field: String, line: Int?) -> Currency? {
        guard let source = fields["currency"] else {
            report("\(field).currency", line, "required: an ISO 4217 currency code such as EUR, USD or JPY")
            return nil
        }
        guard let code = string(source, field: "\(field).currency") else { return nil }
        guard let currency = Currency(code: code) else {
            report(
                "\(field).currency", source.line,
                "\"\(code)\" is not an active ISO 4217 currency code (e.g. EUR, USD, JPY, KWD; upper case)")
            return nil
        }
        return currency
    }

    private mutating func readDestination(_ fields: [String: YAMLSource], field: String, line: Int?)
        -> SettlementRule.Destination?
    {
        switch (fields["to"], fields["split"]) {
        case (let to?, nil):
            return account(to, field: "\(field).to").map { .account($0) }
        case (nil, let split?):
            return readSplit(split, field: "\(field).split")
        case (.some, .some):
            report("\(field).split", fields["split"]?.line, "give either to or split, not both")
        case (nil, nil):
            report("\(field).to", line, "required: to (the account paid) or split (shares of the amount)")
        }
        return nil
    }

    private mutating func readSplit(_ source: YAMLSource, field: String) -> SettlementRule.Destination? {
        guard let list = source.elements, !list.isEmpty else {
            report(field, source.line, "expected a non-empty list of {to, share}")
            return nil
        }
        var shares: [SettlementRule.Share] = []
        for (index, element) in list.enumerated() {
            let path = "\(field)[\(index)]"
            guard let parts = mapping(element, field: path, allowed: ["to", "share"]) else { continue }
            let to = account(parts["to"], field: "\(path).to")
            if parts["to"] == nil { report("\(path).to", element.line, "required: the account paid") }
            guard let shareSource = parts["share"] else {
                report("\(path).share", element.line, "required: a percentage such as \"85%\", or remaining")
                continue
            }
            let text = string(shareSource, field: "\(path).share")
            var portion: SettlementRule.Share.Portion?
            if text == "remaining" {
                portion = .remaining
            } else if let text, text.hasSuffix("%"), let rate = Number(parsing: text.dropLast()), rate > Number(0),
                rate <= Number(100)
            {
                portion = .percent(rate)
            } else if text != nil {
                report(
                    "\(path).share", shareSource.line, "expected a percentage above 0% and at most 100%, or remaining")
            }
            if let to, let portion { shares.append(.init(to: to, portion: portion)) }
        }
        let remaining = shares.filter { $0.portion == .remaining }.count
        var percent = Number(0)
        for share in shares {
            guard case .percent(let rate) = share.portion else { continue }
            do {
                percent = try percent + rate
            } catch {
                // Shares whose sum needs more than 38 digits cannot be checked to add up to 100%.
                report(field, source.line, "the shares' percentages add up to more digits than 38; round them")
                return .split(shares)
            }
        }
        if remaining > 1 { report(field, source.line, "at most one share may be remaining") }
        if percent > Number(100) { report(field, source.line, "the shares add up to \(percent)%, more than 100%") }
        if remaining == 0, percent != Number(100), shares.count == list.count {
            report(field, source.line, "the shares add up to \(percent)%; make them 100% or add a remaining share")
        }
        return .split(shares)
    }

    private mutating func readApproval(_ source: YAMLSource?, field: String) -> SettlementRule.ApprovalPolicy? {
        guard let source,
            let fields = mapping(source, field: field, allowed: ["above", "approvers", "role", "expires"])
        else { return nil }
        let above = requiredDecimal(fields, "above", field, source)
        let approvers = integer(fields["approvers"], field: "\(field).approvers", range: 1...10) ?? 1
        let role = string(fields["role"], field: "\(field).role")
        if fields["role"] == nil { report("\(field).role", source.line, "required: the role approvers must hold") }
        let expires = duration(fields["expires"], field: "\(field).expires")
        guard let above, let role else { return nil }
        return .init(above: above, approvers: approvers, role: role, expires: expires)
    }

    // MARK: Values

    /// An exact decimal, written as a number or a string: `12.50` or `"12.50"`.
    private mutating func decimal(_ source: YAMLSource?, field: String) -> Number? {
        guard let source else { return nil }
        switch source.jsonValue() {
        case .success(.number(let number)): return number
        case .success(.string(let text)) where Number(parsing: text) != nil: return Number(parsing: text)
        default:
            report(field, source.line, "expected a decimal amount such as \"12.50\", found \(Self.describe(source))")
            return nil
        }
    }

    private mutating func requiredDecimal(
        _ fields: [String: YAMLSource], _ key: String, _ field: String, _ parent: YAMLSource
    ) -> Number? {
        guard let source = present(fields, key, field, parent, "a decimal amount") else { return nil }
        return decimal(source, field: "\(field).\(key)")
    }

    private mutating func requiredExpression(
        _ fields: [String: YAMLSource], _ key: String, _ field: String, _ parent: YAMLSource
    ) -> ValueTemplate? {
        guard let source = present(fields, key, field, parent, "a number or a ${{ … }} expression") else { return nil }
        return expression(source, field: "\(field).\(key)")
    }

    /// The value at `key`; reported as required (`what` says what it should be) when absent.
    private mutating func present(
        _ fields: [String: YAMLSource], _ key: String, _ field: String, _ parent: YAMLSource, _ what: String
    ) -> YAMLSource? {
        if fields[key] == nil { report("\(field).\(key)", parent.line, "required: \(what)") }
        return fields[key]
    }

    /// A number or a `${{ … }}` expression over the rule context.
    private mutating func expression(_ source: YAMLSource, field: String) -> ValueTemplate? {
        guard let compiled = template(source, field: field) else { return nil }
        for path in compiled.expressions.flatMap(\.referencedPaths) {
            guard let root = path.first, !Self.contextRoots.contains(root) else { continue }
            let valid = Self.contextRoots.sorted().joined(separator: ", ")
            report(field, source.line, "reads \(path.joined(separator: ".")), but rule expressions can read \(valid)")
        }
        return compiled
    }

    private mutating func account(_ source: YAMLSource?, field: String) -> String? {
        guard let name = string(source, field: field) else { return nil }
        guard Self.isAccount(name) else {
            report(field, source?.line, "\"\(name)\" is not a valid account name; use \(Self.accountPattern)")
            return nil
        }
        return name
    }

    private static func isSignal(_ type: String) -> Bool {
        type.hasPrefix("signal.") && isName(String(type.dropFirst("signal.".count)))
    }

    /// `[a-z0-9_-]+`.
    private static func isName(_ text: String) -> Bool { isMade(text, of: "_-") }

    /// `[a-z0-9_.:-]+`.
    private static func isAccount(_ text: String) -> Bool { isMade(text, of: "_.:-") }

    /// Non-empty, of lower-case ASCII letters, digits and `punctuation` only.
    private static func isMade(_ text: String, of punctuation: String) -> Bool {
        !text.isEmpty
            && text.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || punctuation.contains($0) }
    }
}
