import UAEFCore

/// The OpenAI chat completions wire format (`POST {base_url}/chat/completions`), which OpenAI,
/// vLLM, llama.cpp's server and Ollama all speak: request bodies, answers, error bodies and the
/// `data:` chunk stream ending in `[DONE]`.
public enum OpenAIChat {
    /// The JSON body of `request`; `stream` asks for chunks, with a final usage chunk.
    ///
    /// A tool result becomes a `tool` message (prefixed `Error: ` when the tool failed: the
    /// format has no error flag); an assistant's tool calls carry their input as a JSON string.
    public static func body(_ request: ModelRequest, stream: Bool) -> JSONValue {
        var messages: [JSONValue] = []
        if let system = request.system { messages.append(["role": "system", "content": .string(system)]) }
        for message in request.messages { messages.append(contentsOf: Self.messages(message)) }
        var body: [String: JSONValue] = [
            "model": .string(request.model), "max_tokens": .number(Number(request.maxTokens)),
            "messages": .array(messages),
        ]
        if let temperature = request.temperature { body["temperature"] = .number(temperature) }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "type": "function",
                        "function": [
                            "name": .string(tool.name), "description": .string(tool.description),
                            "parameters": tool.inputSchema,
                        ],
                    ]
                })
        }
        if stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return .object(body)
    }

    static func messages(_ message: ModelMessage) -> [JSONValue] {
        switch message.role {
        case .assistant:
            var assistant: [String: JSONValue] = ["role": "assistant"]
            let text = message.text
            assistant["content"] = text.isEmpty ? .null : .string(text)
            let calls = message.toolUses
            if !calls.isEmpty {
                assistant["tool_calls"] = .array(
                    calls.map { call in
                        [
                            "id": .string(call.id), "type": "function",
                            "function": ["name": .string(call.name), "arguments": .string(call.input.jsonText)],
                        ]
                    })
            }
            return [.object(assistant)]
        case .user:
            var messages: [JSONValue] = []
            var text = ""
            for block in message.content {
                switch block {
                case .text(let part): text += part
                case .toolResult(let id, let content, let isError):
                    messages.append([
                        "role": "tool", "tool_call_id": .string(id),
                        "content": .string(isError ? "Error: " + content : content),
                    ])
                case .toolUse: continue
                }
            }
            if !text.isEmpty { messages.append(["role": "user", "content": .string(text)]) }
            return messages
        }
    }

    /// A whole (not streamed) answer: its first choice.
    public static func response(_ value: JSONValue) throws(ModelError) -> ModelResponse {
        guard let choice = value["choices"]?.arrayValue?.first, let message = choice["message"] else {
            throw .malformed("the answer has no choices[0].message")
        }
        var content: [ContentBlock] = []
        if let text = message["content"]?.stringValue, !text.isEmpty { content.append(.text(text)) }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            content.append(
                try toolUse(
                    id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue,
                    arguments: call["function"]?["arguments"]?.stringValue ?? ""))
        }
        return ModelResponse(
            id: value["id"]?.stringValue ?? "", model: value["model"]?.stringValue ?? "", content: content,
            stopReason: stopReason(choice["finish_reason"]?.stringValue), usage: usage(value["usage"]))
    }

    static func toolUse(id: String?, name: String?, arguments: String) throws(ModelError) -> ContentBlock {
        guard let id, let name, !name.isEmpty else { throw .malformed("a tool call has no id or no function name") }
        do {
            let input = arguments.isEmpty ? [:] : try JSONValue(jsonText: arguments)
            return .toolUse(id: id, name: name, input: input)
        } catch {
            throw ModelError(
                status: nil, type: "invalid_tool_input",
                message: "the model's arguments for tool \(name) are not valid JSON: \(error)", retryable: true)
        }
    }

    static func stopReason(_ name: String?) -> StopReason {
        switch name {
        case "stop": .endTurn
        case "length": .maxTokens
        case "tool_calls", "function_call": .toolUse
        case "content_filter": .contentFilter
        case let other: .other(other ?? "none")
        }
    }

    /// `prompt_tokens` less the cached ones as input, `prompt_tokens_details.cached_tokens` as
    /// cache reads (the Anthropic split), `completion_tokens` as output.
    static func usage(_ value: JSONValue?) -> TokenUsage {
        let prompt = value?["prompt_tokens"]?.numberValue?.intValue ?? 0
        let cached = value?["prompt_tokens_details"]?["cached_tokens"]?.numberValue?.intValue ?? 0
        return TokenUsage(
            input: max(0, prompt - cached), output: value?["completion_tokens"]?.numberValue?.intValue ?? 0,
            cacheRead: cached)
    }

    /// The error an error body (`{"error":{"message","type","param","code"}}`) describes; `code`
    /// may be a string or, from some compatible servers, a number.
    static func error(body: JSONValue?, text: String) -> (type: String?, message: String) {
        let error = body?["error"] ?? body
        let code = error?["code"].flatMap { $0.stringValue ?? $0.numberValue.map(\.description) }
        let message = error?["message"]?.stringValue ?? String(text.prefix(500))
        return (code ?? error?["type"]?.stringValue, message.isEmpty ? "no error message" : message)
    }

    /// Builds an answer from `data:` chunks: content deltas appended, tool calls assembled by
    /// `index` (id and name from their first piece, argument pieces concatenated), the finish
    /// reason, and usage from the chunk that carries it; `[DONE]` ends it, and a chunk holding
    /// `error` ends it with that error.
    public struct Stream: Sendable {
        private var id = ""
        private var model = ""
        private var text = ""
        private var calls: [Int: (id: String?, name: String, arguments: String)] = [:]
        private var finishReason: String?
        private var usage = TokenUsage()
        private var done = false

        public init() {}

        /// True once `[DONE]` arrived.
        public var isComplete: Bool { done }

        /// Takes one event of the stream.
        public mutating func take(_ event: ServerSentEvent) throws(ModelError) {
            if event.data == "[DONE]" {
                done = true
                return
            }
            let chunk: JSONValue
            do {
                chunk = try JSONValue(jsonText: event.data)
            } catch {
                throw .malformed("a stream chunk is not JSON: \(error)")
            }
            if let error = chunk["error"], error != .null {
                let (type, message) = OpenAIChat.error(body: chunk, text: event.data)
                throw ModelError(status: nil, type: type, message: message, retryable: false)
            }
            if id.isEmpty { id = chunk["id"]?.stringValue ?? "" }
            if model.isEmpty { model = chunk["model"]?.stringValue ?? "" }
            if let value = chunk["usage"], value != .null { usage = OpenAIChat.usage(value) }
            for choice in chunk["choices"]?.arrayValue ?? [] where (choice["index"]?.numberValue?.intValue ?? 0) == 0 {
                let delta = choice["delta"]
                if let part = delta?["content"]?.stringValue { text += part }
                for (position, call) in (delta?["tool_calls"]?.arrayValue ?? []).enumerated() {
                    // Some servers (older Ollama) send whole calls without an index.
                    let index = call["index"]?.numberValue?.intValue ?? (calls.count + position)
                    guard (0..<1_000).contains(index) else { throw .malformed("a tool call has an index out of range") }
                    var entry = calls[index] ?? (nil, "", "")
                    if let callID = call["id"]?.stringValue { entry.id = callID }
                    entry.name += call["function"]?["name"]?.stringValue ?? ""
                    entry.arguments += call["function"]?["arguments"]?.stringValue ?? ""
                    calls[index] = entry
                }
                if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
            }
        }

        /// The answer the stream built; an error when it ended before `[DONE]` or a finish reason.
        public func response() throws(ModelError) -> ModelResponse {
            guard done || finishReason != nil else {
                throw ModelError(
                    status: nil, type: "incomplete_stream", message: "the stream ended before [DONE]", retryable: true)
            }
            var content: [ContentBlock] = text.isEmpty ? [] : [.text(text)]
            for index in calls.keys.sorted() {
                let call = calls[index]!
                content.append(try OpenAIChat.toolUse(id: call.id, name: call.name, arguments: call.arguments))
            }
            var reason = OpenAIChat.stopReason(finishReason)
            // Some servers end a tool-calling turn with `stop`.
            if reason == .endTurn && !calls.isEmpty { reason = .toolUse }
            return ModelResponse(id: id, model: model, content: content, stopReason: reason, usage: usage)
        }
    }
}
