import UAEFCore

/// One block of a message's content, in the shape both providers' formats map onto.
public enum ContentBlock: Sendable, Hashable {
    case text(String)
    /// The model asks for a tool; `id` pairs the call with its result.
    case toolUse(id: String, name: String, input: JSONValue)
    /// A tool's answer to the call `id`; `isError` when the tool failed.
    case toolResult(id: String, content: String, isError: Bool)
}

/// One turn of a conversation with a model.
public struct ModelMessage: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable {
        case user, assistant
    }

    public var role: Role
    public var content: [ContentBlock]

    public init(role: Role, content: [ContentBlock]) {
        self.role = role
        self.content = content
    }

    /// A user turn of plain text.
    public static func user(_ text: String) -> ModelMessage { ModelMessage(role: .user, content: [.text(text)]) }

    /// The text blocks joined, without tool calls.
    public var text: String {
        content.compactMap { block in
            if case .text(let text) = block { return text }
            return nil
        }.joined()
    }

    /// The tool calls in order.
    public var toolUses: [(id: String, name: String, input: JSONValue)] {
        content.compactMap { block in
            if case .toolUse(let id, let name, let input) = block { return (id, name, input) }
            return nil
        }
    }
}

/// A tool the model may call: its name, what it does and the JSON Schema of its input.
public struct ToolDefinition: Sendable, Hashable {
    public var name: String
    public var description: String
    public var inputSchema: JSONValue

    public init(name: String, description: String, inputSchema: JSONValue) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }
}

/// What one model call asks for, whichever provider answers it.
public struct ModelRequest: Sendable, Hashable {
    public var model: String
    public var system: String?
    public var messages: [ModelMessage]
    public var tools: [ToolDefinition]
    public var maxTokens: Int
    public var temperature: Number?

    public init(
        model: String, system: String? = nil, messages: [ModelMessage], tools: [ToolDefinition] = [],
        maxTokens: Int, temperature: Number? = nil
    ) {
        self.model = model
        self.system = system
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.temperature = temperature
    }
}

/// Tokens one call used, as the provider counted them.
public struct TokenUsage: Sendable, Hashable {
    public var input: Int
    public var output: Int
    /// Input tokens written to the provider's prompt cache (Anthropic).
    public var cacheCreation: Int
    /// Input tokens read from the prompt cache.
    public var cacheRead: Int

    public init(input: Int = 0, output: Int = 0, cacheCreation: Int = 0, cacheRead: Int = 0) {
        self.input = input
        self.output = output
        self.cacheCreation = cacheCreation
        self.cacheRead = cacheRead
    }

    /// Every token counted once.
    public var total: Int { input + output + cacheCreation + cacheRead }
}

/// Why the model stopped.
public enum StopReason: Sendable, Hashable {
    /// It finished its answer.
    case endTurn
    /// It ran into `max_tokens`.
    case maxTokens
    case stopSequence
    /// It asks for tools and waits for their results.
    case toolUse
    /// A long turn paused; sending the conversation back continues it (Anthropic).
    case pauseTurn
    /// It declined to answer.
    case refusal
    /// The provider's filter withheld the answer (OpenAI `content_filter`).
    case contentFilter
    /// A reason this client does not know, as the provider named it.
    case other(String)

    /// The name UAEF records: the Anthropic spelling where one exists.
    public var name: String {
        switch self {
        case .endTurn: "end_turn"
        case .maxTokens: "max_tokens"
        case .stopSequence: "stop_sequence"
        case .toolUse: "tool_use"
        case .pauseTurn: "pause_turn"
        case .refusal: "refusal"
        case .contentFilter: "content_filter"
        case .other(let name): name
        }
    }
}

/// A model's answer to one call.
public struct ModelResponse: Sendable, Hashable {
    public var id: String
    public var model: String
    public var message: ModelMessage
    public var stopReason: StopReason
    public var usage: TokenUsage

    public init(id: String, model: String, content: [ContentBlock], stopReason: StopReason, usage: TokenUsage) {
        self.id = id
        self.model = model
        message = ModelMessage(role: .assistant, content: content)
        self.stopReason = stopReason
        self.usage = usage
    }
}
