import Foundation
import Testing
import UAEFCore
import UAEFLLM
import UAEFTestSupport

/// The fixtures of Tests/Support/llm (recorded by and taken from the providers' official Python
/// SDKs; the folder's README names each file's source).
enum LLMFixtures {
    static func data(_ provider: String, _ name: String) throws -> Data {
        try Data(
            contentsOf: Fixtures.packageRoot.appendingPathComponent("Tests/Support/llm/\(provider)/\(name)"))
    }

    static func json(_ provider: String, _ name: String) throws -> JSONValue {
        try JSONValue(jsonData: try data(provider, name))
    }

    /// The events of an `.sse` fixture, fed to the parser `chunk` bytes at a time.
    static func events(_ provider: String, _ name: String, chunk: Int = 1 << 20) throws -> [ServerSentEvent] {
        let bytes = Array(try data(provider, name))
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            events += try parser.feed(bytes[start..<min(start + chunk, bytes.count)])
        }
        return events
    }
}

@Suite("Server-sent events")
struct ServerSentEventTests {
    @Test("events split at any byte, with CRLF, CR or LF line ends, comments and multi-line data, come out whole")
    func parsing() throws {
        let text =
            ": a comment\r\nevent: first\r\ndata: one\r\ndata:  two\r\n\r\nid: 7\rretry: 10\rdata:three\r\rdata\n\n"
        let expected = [
            ServerSentEvent(event: "first", data: "one\n two"), ServerSentEvent(data: "three"),
            ServerSentEvent(data: ""),
        ]
        let bytes = Array(text.utf8)
        for chunk in 1...bytes.count {
            var parser = ServerSentEventParser()
            var events: [ServerSentEvent] = []
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                events += try parser.feed(bytes[start..<min(start + chunk, bytes.count)])
            }
            #expect(events == expected, "chunks of \(chunk) bytes")
        }
    }

    @Test("an event without its blank line is not dispatched; a line past the limit is an error")
    func limits() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("data: unfinished\n".utf8)).isEmpty)
        var long = ServerSentEventParser()
        #expect(throws: ServerSentEventParser.LineTooLong.self) {
            try long.feed([UInt8](repeating: UInt8(ascii: "x"), count: ServerSentEventParser.maximumLineBytes + 1))
        }
        // The limit counts a line across the chunks it arrives in.
        var small = ServerSentEventParser(lineLimit: 8)
        #expect(try small.feed(Array("data: 12\n\n".utf8)) == [ServerSentEvent(data: "12")])
        #expect(try small.feed(Array("data: 1".utf8)).isEmpty)
        #expect(throws: ServerSentEventParser.LineTooLong.self) { try small.feed(Array("23\n".utf8)) }
    }
}

@Suite("Anthropic Messages wire format, against the anthropic-sdk-python fixtures")
struct AnthropicWireTests {
    func streamed(_ name: String, chunk: Int = 1 << 20) throws -> ModelResponse {
        var stream = AnthropicMessages.Stream()
        for event in try LLMFixtures.events("anthropic", name, chunk: chunk) { try stream.take(event) }
        return try stream.response()
    }

    @Test(
        "a recorded text stream (ping, padded data) builds the SDK's text, stop reason and usage, however it is split")
    func textStream() throws {
        for chunk in [1, 7, 1 << 20] {
            let response = try streamed("stream_text.sse", chunk: chunk)
            #expect(response.message.text == "[12345,67890]")
            #expect(response.stopReason == .endTurn)
            #expect(response.usage.input == 135 && response.usage.output == 10)
        }
    }

    @Test("tool input in input_json_delta pieces is joined and parsed; text before it is kept; tool_use stops")
    func toolUseStream() throws {
        let response = try streamed("stream_tool_use.sse")
        #expect(response.message.text == "I'll check the current weather in Paris for you.")
        let calls = response.message.toolUses
        #expect(calls.count == 1)
        #expect(calls.first?.id == "toolu_01NRLabsLyVHZPKxbKvkfSMn" && calls.first?.name == "get_weather")
        #expect(calls.first?.input == ["location": "Paris"])
        #expect(response.stopReason == .toolUse)
        #expect(response.usage == TokenUsage(input: 377, output: 65, cacheCreation: 0, cacheRead: 0))
    }

    @Test("a mid-stream error event ends the stream with the provider's error type, worth retrying when overloaded")
    func midStreamError() throws {
        #expect {
            try streamed("stream_error.sse")
        } throws: { error in
            let error = error as? ModelError
            return error?.type == "overloaded_error" && error?.message == "Overloaded" && error?.retryable == true
        }
    }

    @Test("a stream cut off before message_stop is incomplete, not an answer")
    func truncated() throws {
        var stream = AnthropicMessages.Stream()
        for event in try LLMFixtures.events("anthropic", "stream_text.sse").dropLast() { try stream.take(event) }
        #expect(throws: ModelError.self) { try stream.response() }
    }

    @Test("broken tool input JSON is an error naming the tool")
    func brokenToolInput() throws {
        var stream = AnthropicMessages.Stream()
        let events = [
            #"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1}}}"#,
            #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"lookup","input":{}}}"#,
            #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#,
        ]
        for data in events { try stream.take(ServerSentEvent(event: "x", data: data)) }
        #expect {
            try stream.take(
                ServerSentEvent(event: "content_block_stop", data: #"{"type":"content_block_stop","index":0}"#))
        } throws: { error in
            (error as? ModelError)?.type == "invalid_tool_input" && "\(error)".contains("lookup")
        }
    }

    @Test("a recorded whole answer with text and tool_use reads; its request round-trips through the recorded form")
    func wholeMessage() throws {
        let response = try AnthropicMessages.response(try LLMFixtures.json("anthropic", "message_tool_use.json"))
        #expect(response.stopReason == .toolUse)
        let call = try #require(response.message.toolUses.first)
        #expect(call.id == "toolu_01LRanfq6DmHn1yDTB4d1SAh" && call.name == "get_weather")
        #expect(call.input == ["location": "San Francisco, CA", "units": "f"])
        let turns = [
            ModelMessage.user("Weather?"), response.message,
            ModelMessage(role: .user, content: [.toolResult(id: call.id, content: "18C", isError: false)]),
        ]
        for turn in turns { #expect(AnthropicMessages.message(AnthropicMessages.message(turn)) == turn) }
        let body = AnthropicMessages.body(
            ModelRequest(
                model: "claude-x", system: "Be brief.", messages: turns,
                tools: [ToolDefinition(name: "get_weather", description: "Weather", inputSchema: ["type": "object"])],
                maxTokens: 100), stream: true)
        #expect(body["max_tokens"] == 100 && body["stream"] == true && body["system"] == "Be brief.")
        #expect(body["tools"]?.arrayValue?.first?["input_schema"] == ["type": "object"])
        #expect(
            body["messages"]?.arrayValue?.last?["content"]?.arrayValue?.first
                == ["type": "tool_result", "tool_use_id": .string(call.id), "content": "18C", "is_error": false])
    }
}

@Suite("OpenAI chat completions wire format, against the openai-python fixtures")
struct OpenAIWireTests {
    func streamed(_ name: String, chunk: Int = 1 << 20) throws -> ModelResponse {
        var stream = OpenAIChat.Stream()
        for event in try LLMFixtures.events("openai", name, chunk: chunk) { try stream.take(event) }
        #expect(stream.isComplete)
        return try stream.response()
    }

    @Test("a recorded text stream builds its content, stop and the usage chunk's counts")
    func textStream() throws {
        for chunk in [1, 13, 1 << 20] {
            let response = try streamed("stream_text.sse", chunk: chunk)
            #expect(
                response.message.text
                    == "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, I recommend checking a reliable weather website or a weather app."
            )
            #expect(response.stopReason == .endTurn)
            #expect(response.usage.input == 14 && response.usage.output == 30)
        }
    }

    @Test("two parallel tool calls are assembled by index from argument fragments")
    func toolCallStream() throws {
        let response = try streamed("stream_tool_calls.sse", chunk: 5)
        let calls = response.message.toolUses
        #expect(calls.map(\.id) == ["call_JMW1whyEaYG438VE1OIflxA2", "call_DNYTawLBoN8fj3KN6qU9N1Ou"])
        #expect(calls.map(\.name) == ["GetWeatherArgs", "get_stock_price"])
        #expect(calls.first?.input == ["city": "Edinburgh", "country": "GB", "units": "c"])
        #expect(calls.last?.input == ["ticker": "AAPL", "exchange": "NASDAQ"])
        #expect(response.stopReason == .toolUse)
        #expect(response.usage.input == 149 && response.usage.output == 60)
    }

    @Test("a recorded whole answer reads; tool results become tool messages, calls carry JSON-string arguments")
    func wholeAnswer() throws {
        let response = try OpenAIChat.response(try LLMFixtures.json("openai", "completion_tool_calls.json"))
        #expect(response.message.toolUses.map(\.name) == ["GetWeatherArgs", "get_stock_price"])
        #expect(response.stopReason == .toolUse)
        let call = try #require(response.message.toolUses.first)
        let body = OpenAIChat.body(
            ModelRequest(
                model: "gpt-x", system: "Be brief.",
                messages: [
                    .user("Weather?"), response.message,
                    ModelMessage(role: .user, content: [.toolResult(id: call.id, content: "no data", isError: true)]),
                ], maxTokens: 50), stream: true)
        let messages = try #require(body["messages"]?.arrayValue)
        #expect(messages.map { $0["role"]?.stringValue } == ["system", "user", "assistant", "tool"])
        #expect(messages[2]["content"] == .null)
        let arguments = try #require(
            messages[2]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue)
        #expect(try JSONValue(jsonText: arguments) == call.input)
        #expect(messages[3] == ["role": "tool", "tool_call_id": .string(call.id), "content": "Error: no data"])
        #expect(body["stream_options"] == ["include_usage": true])
    }

    @Test("an error object inside the stream ends it with that error; a number code from a compatible server reads")
    func streamError() throws {
        var stream = OpenAIChat.Stream()
        #expect {
            try stream.take(
                ServerSentEvent(data: #"{"error":{"message":"model not loaded","type":"server_error","code":503}}"#))
        } throws: { error in
            (error as? ModelError)?.message == "model not loaded" && (error as? ModelError)?.type == "503"
        }
    }
}
