import Foundation
import UAEFCore
import UAEFEngine

/// Prices of one model per million tokens, in one currency, as exact decimals with at most
/// three decimal places (so that one token's price is a whole number of billionths).
public struct ModelPrice: Sendable, Hashable {
    public var currency: String
    /// Billionths of the currency unit per token.
    public var input: Int64
    public var output: Int64
    public var cacheWrite: Int64
    public var cacheRead: Int64

    /// The cost of `usage` in billionths; nil when it overflows.
    public func nanos(_ usage: TokenUsage) -> Int64? {
        var total: Int64 = 0
        for (tokens, price) in [
            (usage.input, input), (usage.output, output), (usage.cacheCreation, cacheWrite),
            (usage.cacheRead, cacheRead),
        ] {
            let (cost, overflow) = Int64(tokens).multipliedReportingOverflow(by: price)
            guard !overflow else { return nil }
            let (sum, overflowed) = total.addingReportingOverflow(cost)
            guard !overflowed else { return nil }
            total = sum
        }
        return total
    }

    /// `nanos` as an exact decimal amount of the currency (`0.001234`).
    public static func amount(_ nanos: Int64) -> Number { Number(nanos, powerOfTen: -9) }

    /// Reads `{currency, input, output, cache_write, cache_read}` (prices per million tokens as
    /// decimal strings or numbers); the error names the field.
    static func parse(_ value: JSONValue, field: String) throws(AgentFailure) -> ModelPrice {
        guard let members = value.objectValue else {
            throw AgentFailure("llm: \(field) must be a mapping", retryable: false)
        }
        let allowed: Set<String> = ["currency", "input", "output", "cache_write", "cache_read"]
        if let unknown = members.keys.first(where: { !allowed.contains($0) }) {
            throw AgentFailure(
                "llm: \(field).\(unknown) is not a price; prices: \(allowed.sorted().joined(separator: ", "))",
                retryable: false)
        }
        guard let currency = members["currency"]?.stringValue, Currency(code: currency) != nil else {
            throw AgentFailure("llm: \(field).currency must be an ISO 4217 code such as USD", retryable: false)
        }
        func perToken(_ key: String) throws(AgentFailure) -> Int64 {
            guard let price = members[key] else { return 0 }
            let number = price.numberValue ?? price.stringValue.flatMap { Number(parsing: $0) }
            // Per million tokens to billionths per token: times 1000, which must be whole.
            guard let number, number >= Number(0), let nanos = try? number * Number(1000), nanos.isWhole,
                nanos <= Number(1_000_000_000_000), let whole = nanos.intValue
            else {
                throw AgentFailure(
                    "llm: \(field).\(key) must be a price per million tokens from 0 to 1000000000 with at most three decimals",
                    retryable: false)
            }
            return Int64(whole)
        }
        return ModelPrice(
            currency: currency, input: try perToken("input"), output: try perToken("output"),
            cacheWrite: try perToken("cache_write"), cacheRead: try perToken("cache_read"))
    }
}

/// Limits on what an `llm` agent may use, each optional: tokens and cost per task (all its
/// attempts), per run and per agent per UTC day.
public struct LLMBudget: Sendable, Hashable {
    public var taskTokens: Int?
    public var taskCost: Number?
    public var runTokens: Int?
    public var runCost: Number?
    public var dailyTokens: Int?
    public var dailyCost: Number?

    static let keys: Set<String> = ["task_tokens", "task_cost", "run_tokens", "run_cost", "daily_tokens", "daily_cost"]

    var hasCost: Bool { taskCost != nil || runCost != nil || dailyCost != nil }
    /// True when any limit is set, so calls must be checked against it.
    var hasLimits: Bool { hasCost || taskTokens != nil || runTokens != nil || dailyTokens != nil }

    static func parse(_ value: JSONValue?) throws(AgentFailure) -> LLMBudget {
        var budget = LLMBudget()
        guard let value else { return budget }
        guard let members = value.objectValue else {
            throw AgentFailure("llm: budget must be a mapping", retryable: false)
        }
        if let unknown = members.keys.first(where: { !keys.contains($0) }) {
            throw AgentFailure(
                "llm: budget.\(unknown) is not a budget; budgets: \(keys.sorted().joined(separator: ", "))",
                retryable: false)
        }
        func tokens(_ key: String) throws(AgentFailure) -> Int? {
            guard let entry = members[key] else { return nil }
            guard let count = entry.numberValue?.intValue, count > 0 else {
                throw AgentFailure("llm: budget.\(key) must be a positive whole number of tokens", retryable: false)
            }
            return count
        }
        func cost(_ key: String) throws(AgentFailure) -> Number? {
            guard let entry = members[key] else { return nil }
            guard let amount = entry.numberValue ?? entry.stringValue.flatMap({ Number(parsing: $0) }),
                amount > Number(0), amount <= Number(1_000_000_000)
            else {
                throw AgentFailure("llm: budget.\(key) must be a positive amount such as \"5.00\"", retryable: false)
            }
            return amount
        }
        budget.taskTokens = try tokens("task_tokens")
        budget.runTokens = try tokens("run_tokens")
        budget.dailyTokens = try tokens("daily_tokens")
        budget.taskCost = try cost("task_cost")
        budget.runCost = try cost("run_cost")
        budget.dailyCost = try cost("daily_cost")
        return budget
    }
}

/// An `llm` attempt's parameters (the agent's configuration with the task's `with` on top), checked.
struct LLMSettings: Sendable {
    var endpoint: ModelEndpoint
    var model: String
    var system: String?
    var prompt: String
    var outputSchema: JSONSchema?
    var tools: [LLMToolSpec]
    var maxTurns: Int
    var maxTokens: Int
    var temperature: Number?
    var repairs: Int
    var budget: LLMBudget
    var price: ModelPrice?

    static let required: Set<String> = ["prompt"]
    static let optional: Set<String> = [
        "provider", "model", "base_url", "api_key", "system", "output_schema", "tools", "max_turns", "max_tokens",
        "temperature", "stream", "repair_attempts", "budget", "prices", "timeout", "mcp_servers",
    ]

    init(_ parameters: [String: JSONValue]) throws(AgentFailure) {
        func fail(_ message: String) -> AgentFailure { AgentFailure("llm: \(message)", retryable: false) }
        guard let providerName = parameters["provider"]?.stringValue,
            let provider = ModelProvider(rawValue: providerName)
        else {
            throw fail("provider must be anthropic or openai (an OpenAI-compatible server)")
        }
        guard let model = parameters["model"]?.stringValue, !model.isEmpty, model.count <= 200 else {
            throw fail("model must name the model, e.g. claude-sonnet-4-5 or gpt-4o")
        }
        let base = parameters["base_url"]?.stringValue ?? provider.defaultBaseURL
        guard let baseURL = URL(string: base), ["http", "https"].contains(baseURL.scheme ?? ""), baseURL.host != nil
        else {
            throw fail("base_url \(base.prefix(100).debugDescription) is not an http or https URL")
        }
        let apiKey = parameters["api_key"]?.stringValue ?? ""
        guard let prompt = parameters["prompt"]?.stringValue, !prompt.isEmpty else {
            throw fail("prompt must be text (a template over inputs and upstream outputs)")
        }
        func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(AgentFailure) -> Int {
            guard let entry = parameters[key] else { return value }
            guard let number = entry.numberValue?.intValue, range.contains(number) else {
                throw fail("\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        var timeout = Duration.seconds(600)
        if let text = parameters["timeout"] {
            guard let parsed = text.stringValue.flatMap(DurationText.parse), parsed > .zero, parsed <= .seconds(3600)
            else { throw fail("timeout must be a duration up to 1h, such as 90s") }
            timeout = parsed
        }
        var stream = true
        if let flag = parameters["stream"] {
            guard case .bool(let value) = flag else { throw fail("stream must be true or false") }
            stream = value
        }
        endpoint = ModelEndpoint(provider: provider, baseURL: baseURL, apiKey: apiKey, stream: stream, timeout: timeout)
        self.model = model
        system = parameters["system"]?.stringValue
        self.prompt = prompt
        if let schema = parameters["output_schema"] {
            if let problem = JSONSchema.problem(in: schema) { throw fail("output_schema: \(problem)") }
            outputSchema = JSONSchema(schema)
        }
        tools = []
        if let list = parameters["tools"] {
            guard let entries = list.arrayValue, entries.count <= 64 else {
                throw fail("tools must be a list of at most 64 tools")
            }
            tools = try entries.enumerated().map { index, entry throws(AgentFailure) in
                try LLMToolSpec.parse(entry, field: "tools[\(index)]")
            }
            var seen: Set<String> = []
            for tool in tools where !seen.insert(tool.name).inserted {
                throw fail("tools: two tools are named \(tool.name)")
            }
        }
        maxTurns = try integer("max_turns", default: 10, in: 1...100)
        maxTokens = try integer("max_tokens", default: 1024, in: 1...200_000)
        repairs = try integer("repair_attempts", default: 2, in: 0...10)
        if let value = parameters["temperature"] {
            guard let number = value.numberValue, number >= Number(0), number <= Number(2) else {
                throw fail("temperature must be a number from 0 to 2")
            }
            temperature = number
        }
        budget = try LLMBudget.parse(parameters["budget"])
        if let prices = parameters["prices"] {
            guard let table = prices.objectValue else {
                throw fail("prices must map model names to their prices per million tokens")
            }
            if let entry = table[model] { price = try ModelPrice.parse(entry, field: "prices.\(model)") }
        }
        if budget.hasCost && price == nil {
            throw fail("a cost budget needs a price for model \(model) in prices")
        }
    }
}

/// A tool as an `llm` agent's `tools` names it: a built-in tool (`get_run`, `search_events`) by
/// name, or a UAEF capability, by name or as `{capability, name, description, input_schema}`.
enum LLMToolSpec: Sendable, Hashable {
    case builtIn(String)
    case capability(capability: String, name: String, description: String, inputSchema: JSONValue)

    /// The name the model calls it by.
    var name: String {
        switch self {
        case .builtIn(let name): name
        case .capability(_, let name, _, _): name
        }
    }

    /// What the providers accept as a tool name.
    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count)
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-")
            }
    }

    static func parse(_ value: JSONValue, field: String) throws(AgentFailure) -> LLMToolSpec {
        func fail(_ message: String) -> AgentFailure { AgentFailure("llm: \(field): \(message)", retryable: false) }
        if let name = value.stringValue {
            if BuiltInTools.names.contains(name) { return .builtIn(name) }
            return try capability(name, name: nil, description: nil, schema: nil, fail: fail)
        }
        guard let members = value.objectValue, let capability = members["capability"]?.stringValue else {
            throw fail("expected a tool name or {capability, name, description, input_schema}")
        }
        let allowed: Set<String> = ["capability", "name", "description", "input_schema"]
        if let unknown = members.keys.first(where: { !allowed.contains($0) }) {
            throw fail("\(unknown) is not a tool setting; settings: \(allowed.sorted().joined(separator: ", "))")
        }
        return try Self.capability(
            capability, name: members["name"]?.stringValue, description: members["description"]?.stringValue,
            schema: members["input_schema"], fail: fail)
    }

    private static func capability(
        _ capability: String, name: String?, description: String?, schema: JSONValue?, fail: (String) -> AgentFailure
    ) throws(AgentFailure) -> LLMToolSpec {
        guard AgentSpec.isValidName(capability) else {
            throw fail(
                "\(capability.prefix(80).debugDescription) is neither a built-in tool (\(BuiltInTools.names.sorted().joined(separator: ", "))) nor a capability name"
            )
        }
        let name = name ?? capability.replacingOccurrences(of: ".", with: "_")
        guard isValidName(name) else {
            throw fail("tool name \(name.prefix(80).debugDescription) must be 1 to 64 letters, digits, _ or -")
        }
        let schema = schema ?? ["type": "object"]
        if let problem = JSONSchema.problem(in: schema) { throw fail("input_schema: \(problem)") }
        return .capability(
            capability: capability, name: name,
            description: description
                ?? "Ask UAEF's \(capability) capability (an agent) to do this; the input becomes its parameters.",
            inputSchema: schema)
    }
}
