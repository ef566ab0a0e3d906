import Foundation
import Logging
import UAEFCore
import UAEFEngine
import UAEFStore

/// One `llm` attempt's conversation: replays the steps earlier attempts recorded, then goes on
/// live, recording each step before the next.
struct LLMConversation {
    let store: any WorkflowStore
    let request: AttemptRequest
    let settings: LLMSettings
    /// The model's tools by name, and their definitions in the order the model is given them.
    let tools: [String: any LLMTool]
    let definitions: [ToolDefinition]
    let client: ModelClient
    let now: @Sendable () -> Date
    let logger: Logger
    /// The steps earlier attempts recorded since the run's last retry, with their events.
    private let recorded: [(step: ConversationStep, event: EventRecord?)]
    /// The index of the first of ``recorded``: steps before it belong to the run's earlier go.
    private let firstIndex: Int
    /// The next step's index.
    private var index = 0
    /// What the task's steps used so far, replayed ones included.
    private var usage = TokenUsage()
    private var costNanos: Int64 = 0
    /// The last model call's step, not yet committed: it commits with the task's completion
    /// (``CompletionWrites``) when the answer is final, else before whatever the task does next.
    private var pending: ChangeSet?

    init(
        store: any WorkflowStore, request: AttemptRequest, settings: LLMSettings, tools: [any LLMTool],
        client: ModelClient, now: @escaping @Sendable () -> Date, logger: Logger
    ) async throws {
        self.store = store
        self.request = request
        self.settings = settings
        self.tools = Dictionary(tools.map { ($0.definition.name, $0) }) { first, _ in first }
        definitions = tools.map(\.definition)
        self.client = client
        self.now = now
        self.logger = logger
        var recorded: [(ConversationStep, EventRecord?)] = []
        // A task's first attempt has nothing recorded to replay: no read.
        let steps =
            request.isFirstOfTask
            ? [] : try await store.conversationSteps(tenant: request.tenant, run: request.runID, taskKey: request.key)
        // Steps of attempts before a retry of the run are its earlier go's: this conversation
        // starts afresh after them (their indexes stay taken).
        let earlier = steps.filter { $0.attempt <= request.attemptsBeforeRetry }
        for step in steps where step.attempt > request.attemptsBeforeRetry {
            let event = try await store.events(in: step.eventSeq..<(step.eventSeq + 1), tenant: request.tenant).first
            recorded.append((step, event))
        }
        self.recorded = recorded
        firstIndex = (earlier.map(\.index).max() ?? -1) + 1
        index = firstIndex
    }

    private var agentName: String { request.agent?.name ?? "llm" }

    /// Talks with the model until its final answer; the task's output.
    mutating func run() async throws -> JSONValue {
        do {
            let output = try await converse()
            if let pending, let writes = CompletionWrites.current {
                writes.add(pending)
                self.pending = nil
            }
            try await commitPending()
            return output
        } catch {
            // The paid answer stays recorded for the retry to replay.
            try? await commitPending()
            throw error
        }
    }

    private mutating func converse() async throws -> JSONValue {
        var messages = [ModelMessage.user(settings.prompt)]
        var turns = 0
        var repairs = 0
        while true {
            guard turns < settings.maxTurns else {
                throw AgentFailure(
                    "llm: the model gave no final answer within max_turns (\(settings.maxTurns))", retryable: false)
            }
            turns += 1
            let response: ModelResponse
            do {
                response = try await call(messages)
            } catch let error as ModelError {
                // Only an answer whose tool input is not JSON comes here: it cannot be kept, so
                // the model is asked again, told why.
                guard repairs < settings.repairs else {
                    throw AgentFailure("llm: \(error.message), after \(repairs) repairs", retryable: false)
                }
                repairs += 1
                messages[messages.count - 1].content.append(
                    .text(
                        "\n\nYour previous answer could not be used: \(error.message). Call the tool again with valid JSON input."
                    ))
                continue
            }
            messages.append(response.message)
            switch response.stopReason {
            case .toolUse:
                let calls = response.message.toolUses
                guard !calls.isEmpty else {
                    throw AgentFailure("llm: the model stopped for tool use without a tool call")
                }
                var results: [ContentBlock] = []
                for call in calls { results.append(try await tool(call)) }
                messages.append(ModelMessage(role: .user, content: results))
            case .pauseTurn:
                continue
            case .maxTokens:
                throw AgentFailure(
                    "llm: the answer was cut off at max_tokens (\(settings.maxTokens)); raise max_tokens",
                    retryable: false)
            case .refusal, .contentFilter:
                throw AgentFailure("llm: the model declined to answer (\(response.stopReason.name))", retryable: false)
            default:
                let text = response.message.text
                guard let schema = settings.outputSchema else { return output(answer: .string(text), response) }
                let (answer, problems) = Self.answer(text, schema: schema)
                if let answer, problems.isEmpty { return output(answer: answer, response) }
                guard repairs < settings.repairs else {
                    throw AgentFailure(
                        "llm: the answer does not match output_schema after \(repairs) repair\(repairs == 1 ? "" : "s"): "
                            + problems.prefix(5).joined(separator: "; "), retryable: false)
                }
                repairs += 1
                messages.append(
                    .user(
                        "Your answer does not match the required JSON schema:\n"
                            + problems.prefix(20).map { "- \($0)" }.joined(separator: "\n")
                            + "\nAnswer again with only the corrected JSON value."))
            }
        }
    }

    /// The JSON value in `text` (alone, or in a ```json fence) and how it fails `schema`.
    static func answer(_ text: String, schema: JSONSchema) -> (JSONValue?, [String]) {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if body.hasPrefix("```") {
            body = String(body.drop { $0 != "\n" }.dropFirst())
            if let end = body.range(of: "```", options: .backwards) { body = String(body[..<end.lowerBound]) }
        }
        do {
            let value = try JSONValue(jsonText: body)
            return (value, schema.violations(of: value))
        } catch {
            return (nil, ["the answer is not a JSON value (\(error))"])
        }
    }

    private func output(answer: JSONValue, _ response: ModelResponse) -> JSONValue {
        var output: [String: JSONValue] = [
            "answer": answer, "text": .string(response.message.text), "model": .string(response.model),
            "stop_reason": .string(response.stopReason.name), "steps": .number(Number(index - firstIndex)),
            "usage": LLMEvents.usage(usage),
        ]
        if let price = settings.price {
            output["cost"] = .number(ModelPrice.amount(costNanos))
            output["currency"] = .string(price.currency)
        }
        return .object(output)
    }

    // MARK: Steps

    /// The recorded step at ``index``, when there is one.
    private var recordedStep: (step: ConversationStep, event: EventRecord?)? {
        let offset = index - firstIndex
        return recorded.indices.contains(offset) ? recorded[offset] : nil
    }

    /// The recorded step at `index` when there is one, checked to be of `kind`.
    private func replayed(_ kind: ConversationStep.Kind) throws -> EventRecord? {
        guard let (step, event) = recordedStep else { return nil }
        guard step.kind == kind else {
            throw AgentFailure(
                "llm: step \(index) of the recorded conversation is a \(step.kind.rawValue) step, not a \(kind.rawValue) step: the task's parameters changed since it was recorded",
                retryable: false)
        }
        guard let event, !event.event.payloads.isEmpty else {
            throw AgentFailure(
                "llm: step \(index) of the recorded conversation was redacted, so the task cannot resume it",
                retryable: false)
        }
        return event
    }

    /// The model's next answer: replayed, or asked for and recorded.
    private mutating func call(_ messages: [ModelMessage]) async throws -> ModelResponse {
        let modelRequest = ModelRequest(
            model: settings.model, system: settings.system, messages: messages,
            tools: definitions, maxTokens: settings.maxTokens,
            temperature: settings.temperature)
        if let event = try replayed(.call) {
            guard let response = event.event.payloads["response"].flatMap(LLMEvents.response) else {
                throw AgentFailure(
                    "llm: step \(index) of the recorded conversation has no readable answer", retryable: false)
            }
            add(usage: response.usage, nanos: recordedStep?.step.costNanos ?? 0)
            index += 1
            return response
        }
        try await commitPending()
        // The request's size bounds its input tokens; it is only rendered when a budget needs it.
        if settings.budget.hasLimits {
            try await checkBudgets(requestBytes: client.requestBody(modelRequest).jsonText.utf8.count)
        }
        let call: ModelCall
        do {
            call = try await client.call(modelRequest, logger: logger)
        } catch let error as ModelError where error.type != "invalid_tool_input" {
            throw AgentFailure(
                "llm: \(settings.endpoint.provider.rawValue) \(settings.model): \(error)", retryable: error.retryable)
        }
        let nanos =
            try settings.price.map { price -> Int64 in
                guard let nanos = price.nanos(call.response.usage) else {
                    throw AgentFailure("llm: the call's cost overflows", retryable: false)
                }
                return nanos
            } ?? 0
        try await record(
            .call, usage: call.response.usage, nanos: nanos, latency: LLMEvents.milliseconds(call.latency),
            data: LLMEvents.callData(call, settings: settings, nanos: nanos),
            payloads: ["request": call.requestBody, "response": LLMEvents.response(call.response)])
        add(usage: call.response.usage, nanos: nanos)
        return call.response
    }

    /// A tool call's result block: replayed, or made and recorded. A call of a tool that
    /// changes the world is recorded as started first; one an earlier attempt started and never
    /// finished recording is not made again: the model is told its outcome is unknown.
    private mutating func tool(_ call: (id: String, name: String, input: JSONValue)) async throws -> ContentBlock {
        try await commitPending()
        var begun = false
        if recordedStep?.step.kind == .toolStarted {
            _ = try replayed(.toolStarted)
            index += 1
            begun = true
        }
        if let event = try replayed(.tool) {
            let result = event.event.payloads["result"]?.stringValue ?? ""
            index += 1
            return .toolResult(id: call.id, content: result, isError: event.event.data["is_error"] == .bool(true))
        }
        var isError = false
        var result: String
        var data: [String: JSONValue] = [
            "tool": .string(call.name), "tool_use_id": .string(call.id), "model": .string(settings.model),
        ]
        if let tool = tools[call.name] { data.merge(tool.eventDetails) { _, new in new } }
        if begun {
            (result, isError) = (
                "this call was made before UAEF stopped and its result was never recorded, so whether it took effect is unknown; check before calling it again",
                true
            )
            data["outcome_unknown"] = true
        } else if let tool = tools[call.name] {
            if tool.changesWorld {
                try await record(
                    .toolStarted, usage: TokenUsage(), nanos: 0, data: data, payloads: ["input": call.input])
            }
            do {
                let outcome = try await tool.call(call.input, request: request, step: index, logger: logger)
                result = outcome.value.jsonText
                data.merge(outcome.details) { _, new in new }
            } catch let error as ToolInputError {
                (result, isError) = (error.description, true)
            } catch let failure as AgentFailure {
                (result, isError) = (failure.message, true)
            }
        } else {
            (result, isError) = ("no tool \(call.name); tools: \(tools.keys.sorted().joined(separator: ", "))", true)
        }
        data["is_error"] = .bool(isError)
        try await record(
            .tool, usage: TokenUsage(), nanos: 0, data: data,
            payloads: ["input": call.input, "result": .string(result)])
        return .toolResult(id: call.id, content: result, isError: isError)
    }

    private mutating func add(usage step: TokenUsage, nanos: Int64) {
        usage.input += step.input
        usage.output += step.output
        usage.cacheCreation += step.cacheCreation
        usage.cacheRead += step.cacheRead
        let (sum, overflow) = costNanos.addingReportingOverflow(nanos)
        costNanos = overflow ? .max : sum
    }

    private mutating func record(
        _ kind: ConversationStep.Kind, usage: TokenUsage, nanos: Int64, latency: Int = 0, data: [String: JSONValue],
        payloads: [String: JSONValue]
    ) async throws {
        let time = now()
        var random = SystemRandomNumberGenerator()
        let id = "evt_" + SortableID.make(at: time, using: &random)
        var data = data
        data["step"] = .number(Number(index))
        data["attempt"] = .number(Number(request.attempt))
        data["agent"] = .string(agentName)
        let step = ConversationStep(
            tenant: request.tenant, run: request.runID, taskKey: request.key, index: index, attempt: request.attempt,
            kind: kind, agent: agentName, day: LLMEvents.day(time), inputTokens: usage.input,
            outputTokens: usage.output, cacheCreationTokens: usage.cacheCreation, cacheReadTokens: usage.cacheRead,
            costNanos: nanos, currency: settings.price?.currency, latencyMilliseconds: latency, eventID: id)
        var changes = ChangeSet()
        changes.conversationSteps = [step]
        changes.events = [
            EventDraft(
                id: id, time: time, type: LLMEvents.type(of: kind),
                actor: request.agent.map { "agent:\($0.name)" } ?? "engine", tenant: request.tenant,
                subject: "\(request.runID.rawValue)/\(request.key)", data: data, payloads: payloads)
        ]
        index += 1
        // A model call's step waits: if its answer ends the task, it commits with the completion.
        if kind == .call, CompletionWrites.current != nil {
            pending = changes
        } else {
            try await commit(changes)
        }
    }

    /// Commits the step that waits, if any.
    private mutating func commitPending() async throws {
        guard let changes = pending else { return }
        pending = nil
        try await commit(changes)
    }

    private func commit(_ changes: ChangeSet) async throws {
        do {
            try await store.commit(changes)
        } catch let taken as ConversationStepTaken {
            throw AgentFailure("llm: \(taken); this attempt stops", retryable: false)
        }
    }

    // MARK: Budgets

    /// `used` plus `more` billionths as an amount, without wrapping when the sum passes Int64.
    static func amount(_ used: Int64, plus more: Int64) -> Number {
        let (sum, overflow) = used.addingReportingOverflow(more)
        return overflow ? ModelPrice.amount(.max) : ModelPrice.amount(sum)
    }

    /// Refuses a call that could pass a budget: what was used plus this call's most.
    private func checkBudgets(requestBytes: Int) async throws {
        let budget = settings.budget
        let most = requestBytes / 4 + settings.maxTokens
        var mostNanos: Int64 = 0
        if let price = settings.price {
            guard let nanos = price.nanos(TokenUsage(input: requestBytes / 4, output: settings.maxTokens)) else {
                throw AgentFailure(
                    "llm: budget: this call's most cost overflows; the call was not made", retryable: false)
            }
            mostNanos = nanos
        }
        func refuse(_ what: String, used: String, limit: String, call: String) -> AgentFailure {
            AgentFailure(
                "llm: budget: the \(what) (\(limit)) could be exceeded: \(used) used, and this call may use up to \(call); the call was not made",
                retryable: false)
        }
        func check(_ what: String, tokens limit: Int?, cost costLimit: Number?, spent: ConversationSpending) throws {
            if let limit, spent.tokens + most > limit {
                throw refuse("\(what) token budget", used: "\(spent.tokens) tokens", limit: "\(limit)", call: "\(most)")
            }
            if let costLimit, let price = settings.price,
                Self.amount(spent.costNanos, plus: mostNanos) > costLimit
            {
                throw refuse(
                    "\(what) cost budget", used: "\(ModelPrice.amount(spent.costNanos)) \(price.currency)",
                    limit: "\(costLimit) \(price.currency)", call: "\(ModelPrice.amount(mostNanos)) \(price.currency)")
            }
        }
        try check(
            "task's", tokens: budget.taskTokens, cost: budget.taskCost,
            spent: ConversationSpending(tokens: usage.total, costNanos: costNanos))
        if budget.runTokens != nil || budget.runCost != nil {
            let spent = try await store.conversationSpending(tenant: request.tenant, run: request.runID)
            try check("run's", tokens: budget.runTokens, cost: budget.runCost, spent: spent)
        }
        if budget.dailyTokens != nil || budget.dailyCost != nil {
            let spent = try await store.conversationSpending(
                tenant: request.tenant, agent: agentName, day: LLMEvents.day(now()))
            try check("agent's daily", tokens: budget.dailyTokens, cost: budget.dailyCost, spent: spent)
        }
    }
}

/// How `llm` steps appear in events and payloads.
enum LLMEvents {
    /// A step's event type: `llm.call`, `llm.tool` or `llm.tool_started`.
    static func type(of kind: ConversationStep.Kind) -> String {
        switch kind {
        case .call: "llm.call"
        case .tool: "llm.tool"
        case .toolStarted: "llm.tool_started"
        }
    }

    static func usage(_ usage: TokenUsage) -> JSONValue {
        [
            "input_tokens": .number(Number(usage.input)), "output_tokens": .number(Number(usage.output)),
            "cache_creation_tokens": .number(Number(usage.cacheCreation)),
            "cache_read_tokens": .number(Number(usage.cacheRead)),
        ]
    }

    /// An answer as its payload keeps it: the message in the Anthropic form, stop reason, usage.
    static func response(_ response: ModelResponse) -> JSONValue {
        [
            "id": .string(response.id), "model": .string(response.model),
            "message": AnthropicMessages.message(response.message), "stop_reason": .string(response.stopReason.name),
            "usage": usage(response.usage),
        ]
    }

    static func response(_ value: JSONValue) -> ModelResponse? {
        guard let message = value["message"].flatMap(AnthropicMessages.message) else { return nil }
        func count(_ key: String) -> Int { value["usage"]?[key]?.numberValue?.intValue ?? 0 }
        return ModelResponse(
            id: value["id"]?.stringValue ?? "", model: value["model"]?.stringValue ?? "", content: message.content,
            stopReason: AnthropicMessages.stopReason(value["stop_reason"]?.stringValue),
            usage: TokenUsage(
                input: count("input_tokens"), output: count("output_tokens"),
                cacheCreation: count("cache_creation_tokens"), cacheRead: count("cache_read_tokens")))
    }

    static func callData(_ call: ModelCall, settings: LLMSettings, nanos: Int64) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "provider": .string(settings.endpoint.provider.rawValue), "model": .string(settings.model),
            "stop_reason": .string(call.response.stopReason.name),
            "latency_ms": .number(
                Number(
                    Int(
                        call.latency.components.seconds * 1000 + call.latency.components.attoseconds
                            / 1_000_000_000_000_000))),
            "requests": .number(Number(call.requests)),
        ]
        for (key, value) in usage(call.response.usage).objectValue ?? [:] { data[key] = value }
        if let price = settings.price {
            data["cost"] = .number(ModelPrice.amount(nanos))
            data["currency"] = .string(price.currency)
        }
        return data
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// The UTC day of `date`, `yyyy-MM-dd`.
    static func day(_ date: Date) -> String { String(Timestamp.format(date).prefix(10)) }
}
