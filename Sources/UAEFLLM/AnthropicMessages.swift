import UAEFCore

/// The Anthropic Messages API's wire format (`POST /v1/messages`, `anthropic-version:
/// 2023-06-01`): request bodies, answers, error bodies and the event stream.
public enum AnthropicMessages {
    /// The API version header every request carries.
    public static let version = "2023-06-01"

    /// The JSON body of `request`; `stream` asks for server-sent events.
    public static func body(_ request: ModelRequest, stream: Bool) -> JSONValue {
        var body: [String: JSONValue] = [
            "model": .string(request.model), "max_tokens": .number(Number(request.maxTokens)),
            "messages": .array(request.messages.map(message)),
        ]
        if let system = request.system { body["system"] = .string(system) }
        if let temperature = request.temperature { body["temperature"] = .number(temperature) }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "name": .string(tool.name), "description": .string(tool.description),
                        "input_schema": tool.inputSchema,
                    ]
                })
        }
        if stream { body["stream"] = true }
        return .object(body)
    }

    /// A conversation turn as the API spells it; also the form UAEF records turns in.
    public static func message(_ message: ModelMessage) -> JSONValue {
        [
            "role": .string(message.role.rawValue),
            "content": .array(
                message.content.map { block -> JSONValue in
                    switch block {
                    case .text(let text): ["type": "text", "text": .string(text)]
                    case .toolUse(let id, let name, let input):
                        ["type": "tool_use", "id": .string(id), "name": .string(name), "input": input]
                    case .toolResult(let id, let content, let isError):
                        [
                            "type": "tool_result", "tool_use_id": .string(id), "content": .string(content),
                            "is_error": .bool(isError),
                        ]
                    }
                }),
        ]
    }

    /// Reads a turn written by ``message(_:)`` (or sent by the API); nil when it is not one.
    public static func message(_ value: JSONValue) -> ModelMessage? {
        guard let role = value["role"]?.stringValue.flatMap(ModelMessage.Role.init(rawValue:)) else { return nil }
        if let text = value["content"]?.stringValue { return ModelMessage(role: role, content: [.text(text)]) }
        guard let blocks = value["content"]?.arrayValue else { return nil }
        var content: [ContentBlock] = []
        for block in blocks {
            switch block["type"]?.stringValue {
            case "text":
                guard let text = block["text"]?.stringValue else { return nil }
                content.append(.text(text))
            case "tool_use":
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else { return nil }
                content.append(.toolUse(id: id, name: name, input: block["input"] ?? [:]))
            case "tool_result":
                guard let id = block["tool_use_id"]?.stringValue else { return nil }
                let text =
                    block["content"]?.stringValue
                    ?? block["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
                content.append(.toolResult(id: id, content: text, isError: block["is_error"] == .bool(true)))
            default:
                // Blocks this client does not act on (thinking, server tools) are not kept.
                continue
            }
        }
        return ModelMessage(role: role, content: content)
    }

    /// A whole (not streamed) answer.
    public static func response(_ value: JSONValue) throws(ModelError) -> ModelResponse {
        guard let id = value["id"]?.stringValue, let message = message(value) else {
            throw .malformed("the answer is not a message (no id, role or content)")
        }
        return ModelResponse(
            id: id, model: value["model"]?.stringValue ?? "", content: message.content,
            stopReason: stopReason(value["stop_reason"]?.stringValue), usage: usage(value["usage"]))
    }

    static func stopReason(_ name: String?) -> StopReason {
        switch name {
        case "end_turn": .endTurn
        case "max_tokens", "model_context_window_exceeded": .maxTokens
        case "stop_sequence": .stopSequence
        case "tool_use": .toolUse
        case "pause_turn": .pauseTurn
        case "refusal": .refusal
        case let other: .other(other ?? "none")
        }
    }

    static func usage(_ value: JSONValue?, over base: TokenUsage = TokenUsage()) -> TokenUsage {
        func count(_ key: String) -> Int? { value?[key]?.numberValue?.intValue }
        return TokenUsage(
            input: count("input_tokens") ?? base.input, output: count("output_tokens") ?? base.output,
            cacheCreation: count("cache_creation_input_tokens") ?? base.cacheCreation,
            cacheRead: count("cache_read_input_tokens") ?? base.cacheRead)
    }

    /// The error an API error body (`{"type":"error","error":{"type","message"}}`) describes.
    static func error(status: Int?, body: JSONValue?, text: String) -> (type: String?, message: String) {
        let error = body?["error"]
        let message = error?["message"]?.stringValue ?? String(text.prefix(500))
        return (error?["type"]?.stringValue, message.isEmpty ? "no error message" : message)
    }

    /// Builds an answer from the stream's events: `message_start`, then per content block
    /// `content_block_start`, its deltas (`text_delta`, `input_json_delta` pieces concatenated and
    /// parsed at `content_block_stop`) and `content_block_stop`, then `message_delta` (stop reason,
    /// usage so far) and `message_stop`; `ping` is ignored and `error` ends it with that error.
    public struct Stream: Sendable {
        private var id: String?
        private var model = ""
        private var usage = TokenUsage()
        private var stopReason: StopReason?
        private var blocks: [Int: Block] = [:]
        private var finished = false

        private enum Block: Sendable {
            case text(String)
            case toolUse(id: String, name: String, json: String)
            case done(ContentBlock)
            case skipped
        }

        public init() {}

        /// True once `message_stop` arrived.
        public var isComplete: Bool { finished }

        /// Takes one event of the stream.
        public mutating func take(_ event: ServerSentEvent) throws(ModelError) {
            guard event.event != "ping" else { return }
            let value: JSONValue
            do {
                value = try JSONValue(jsonText: event.data)
            } catch {
                throw .malformed("stream event \(event.event) is not JSON: \(error)")
            }
            switch value["type"]?.stringValue ?? event.event {
            case "message_start":
                id = value["message"]?["id"]?.stringValue
                model = value["message"]?["model"]?.stringValue ?? ""
                usage = AnthropicMessages.usage(value["message"]?["usage"])
            case "content_block_start":
                let index = try Self.index(value)
                let block = value["content_block"]
                switch block?["type"]?.stringValue {
                case "text": blocks[index] = .text(block?["text"]?.stringValue ?? "")
                case "tool_use":
                    guard let id = block?["id"]?.stringValue, let name = block?["name"]?.stringValue else {
                        throw .malformed("a tool_use block started without an id or a name")
                    }
                    blocks[index] = .toolUse(id: id, name: name, json: "")
                default: blocks[index] = .skipped
                }
            case "content_block_delta":
                let index = try Self.index(value)
                let delta = value["delta"]
                switch (blocks[index], delta?["type"]?.stringValue) {
                case (.text(let text), "text_delta"):
                    blocks[index] = .text(text + (delta?["text"]?.stringValue ?? ""))
                case (.toolUse(let id, let name, let json), "input_json_delta"):
                    blocks[index] = .toolUse(
                        id: id, name: name, json: json + (delta?["partial_json"]?.stringValue ?? ""))
                case (nil, _): throw .malformed("a delta arrived for block \(index), which never started")
                default: break
                }
            case "content_block_stop":
                let index = try Self.index(value)
                switch blocks[index] {
                case .text(let text): blocks[index] = .done(.text(text))
                case .toolUse(let id, let name, let json):
                    let input: JSONValue
                    do {
                        input = json.isEmpty ? [:] : try JSONValue(jsonText: json)
                    } catch {
                        throw ModelError(
                            status: nil, type: "invalid_tool_input",
                            message: "the model's input for tool \(name) is not valid JSON: \(error)", retryable: true)
                    }
                    blocks[index] = .done(.toolUse(id: id, name: name, input: input))
                default: break
                }
            case "message_delta":
                if let reason = value["delta"]?["stop_reason"]?.stringValue {
                    stopReason = AnthropicMessages.stopReason(reason)
                }
                usage = AnthropicMessages.usage(value["usage"], over: usage)
            case "message_stop":
                finished = true
            case "error":
                let (type, message) = AnthropicMessages.error(status: nil, body: value, text: event.data)
                throw ModelError(
                    status: nil, type: type, message: message,
                    retryable: type == "overloaded_error" || type == "api_error" || type == "rate_limit_error")
            default:
                // New event types are ignored, as the API's versioning policy asks of clients.
                break
            }
        }

        /// The answer the stream built; an error when it ended before `message_stop`.
        public func response() throws(ModelError) -> ModelResponse {
            guard finished, let id else {
                throw ModelError(
                    status: nil, type: "incomplete_stream", message: "the stream ended before message_stop",
                    retryable: true)
            }
            let content = blocks.keys.sorted().compactMap { index -> ContentBlock? in
                if case .done(let block) = blocks[index] { return block }
                return nil
            }
            return ModelResponse(
                id: id, model: model, content: content, stopReason: stopReason ?? .other("none"), usage: usage)
        }

        private static func index(_ value: JSONValue) throws(ModelError) -> Int {
            guard let index = value["index"]?.numberValue?.intValue, (0..<10_000).contains(index) else {
                throw .malformed("a content block event has no valid index")
            }
            return index
        }
    }
}
