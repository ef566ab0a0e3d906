import Foundation
import UAEFCore

/// One scripted answer in the wire shapes of the two APIs, whole or as a stream.
struct FakeAnswer {
    let api: FakeModelServer.API
    let model: String
    let turn: Int
    let script: FakeModelScript.Turn
    let sequence: Int
    let promptCharacters: Int

    var inputTokens: Int { script.inputTokens ?? max(1, promptCharacters / 4) }
    var outputTokens: Int {
        script.outputTokens
            ?? max(1, ((script.text?.utf8.count ?? 0) + calls.reduce(0) { $0 + $1.json.utf8.count }) / 4)
    }

    /// The calls with their ids and input text (the script's raw text for the first, when given).
    var calls: [(id: String, name: String, json: String)] {
        script.toolCalls.enumerated().map { index, call in
            let prefix = api == .anthropic ? "toolu_fake_" : "call_fake_"
            let json = index == 0 ? (script.rawToolInput ?? call.input.jsonText) : call.input.jsonText
            return ("\(prefix)\(turn)_\(index)", call.name, json)
        }
    }

    var stopReason: String {
        if let reason = script.stopReason { return reason }
        switch api {
        case .anthropic: return calls.isEmpty ? "end_turn" : "tool_use"
        case .openai: return calls.isEmpty ? "stop" : "tool_calls"
        }
    }

    var id: String { api == .anthropic ? "msg_fake_\(sequence)" : "chatcmpl-fake-\(sequence)" }

    // MARK: Whole

    func whole() -> JSONValue {
        switch api {
        case .anthropic:
            var content: [JSONValue] = []
            if let text = script.text { content.append(["type": "text", "text": .string(text)]) }
            for call in calls {
                let input = (try? JSONValue(jsonText: call.json)) ?? [:]
                content.append(["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": input])
            }
            return [
                "id": .string(id), "type": "message", "role": "assistant", "model": .string(model),
                "content": .array(content), "stop_reason": .string(stopReason), "stop_sequence": .null,
                "usage": anthropicUsage(output: outputTokens),
            ]
        case .openai:
            var message: [String: JSONValue] = [
                "role": "assistant", "content": script.text.map(JSONValue.string) ?? .null,
            ]
            if !calls.isEmpty {
                message["tool_calls"] = .array(
                    calls.map { call in
                        [
                            "id": .string(call.id), "type": "function",
                            "function": ["name": .string(call.name), "arguments": .string(call.json)],
                        ]
                    })
            }
            return [
                "id": .string(id), "object": "chat.completion", "created": .number(Number(created)),
                "model": .string(model),
                "choices": [
                    ["index": 0, "message": .object(message), "logprobs": .null, "finish_reason": .string(stopReason)]
                ],
                "usage": openAIUsage,
            ]
        }
    }

    private var created: Int { Int(Date().timeIntervalSince1970) }

    private func anthropicUsage(output: Int) -> JSONValue {
        [
            "input_tokens": .number(Number(inputTokens)), "output_tokens": .number(Number(output)),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": .number(Number(script.cacheReadTokens)),
        ]
    }

    private var openAIUsage: JSONValue {
        let prompt = inputTokens + script.cacheReadTokens
        return [
            "prompt_tokens": .number(Number(prompt)), "completion_tokens": .number(Number(outputTokens)),
            "total_tokens": .number(Number(prompt + outputTokens)),
            "prompt_tokens_details": ["cached_tokens": .number(Number(script.cacheReadTokens))],
        ]
    }

    // MARK: Streams

    /// The stream's events as wire text; with `failing`, an error event after the stream began.
    func streamEvents(failing: FakeModelScript.Failure?) -> [String] {
        switch api {
        case .anthropic: anthropicEvents(failing: failing)
        case .openai: openAIEvents(failing: failing)
        }
    }

    /// `text` in pieces of about `size` characters.
    private func pieces(_ text: String, size: Int) -> [String] {
        var pieces: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            pieces.append(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return pieces
    }

    private func anthropicEvents(failing: FakeModelScript.Failure?) -> [String] {
        func event(_ name: String, _ data: JSONValue) -> String { "event: \(name)\ndata: \(data.jsonText)\n\n" }
        var events = [
            event(
                "message_start",
                [
                    "type": "message_start",
                    "message": [
                        "id": .string(id), "type": "message", "role": "assistant", "model": .string(model),
                        "content": [], "stop_reason": .null, "stop_sequence": .null, "usage": anthropicUsage(output: 1),
                    ],
                ]),
            event("ping", ["type": "ping"]),
        ]
        if let failing {
            events.append(
                event(
                    "error",
                    ["type": "error", "error": ["type": .string(failing.type), "message": .string(failing.message)]]))
            return events
        }
        var index = 0
        if let text = script.text {
            events.append(
                event(
                    "content_block_start",
                    ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]))
            for piece in pieces(text, size: 16) {
                events.append(
                    event(
                        "content_block_delta",
                        [
                            "type": "content_block_delta", "index": 0,
                            "delta": ["type": "text_delta", "text": .string(piece)],
                        ]))
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": 0]))
            index = 1
        }
        for call in calls {
            let position = JSONValue.number(Number(index))
            events.append(
                event(
                    "content_block_start",
                    [
                        "type": "content_block_start", "index": position,
                        "content_block": [
                            "type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": [:],
                        ],
                    ]))
            for piece in [""] + pieces(call.json, size: 8) {
                events.append(
                    event(
                        "content_block_delta",
                        [
                            "type": "content_block_delta", "index": position,
                            "delta": ["type": "input_json_delta", "partial_json": .string(piece)],
                        ]))
            }
            events.append(event("content_block_stop", ["type": "content_block_stop", "index": position]))
            index += 1
        }
        events.append(
            event(
                "message_delta",
                [
                    "type": "message_delta", "delta": ["stop_reason": .string(stopReason), "stop_sequence": .null],
                    "usage": ["output_tokens": .number(Number(outputTokens))],
                ]))
        events.append(event("message_stop", ["type": "message_stop"]))
        return events
    }

    private func openAIEvents(failing: FakeModelScript.Failure?) -> [String] {
        func chunk(_ choices: JSONValue, usage: JSONValue? = nil) -> String {
            var value: [String: JSONValue] = [
                "id": .string(id), "object": "chat.completion.chunk", "created": .number(Number(created)),
                "model": .string(model), "choices": choices,
            ]
            if let usage { value["usage"] = usage }
            return "data: \(JSONValue.object(value).jsonText)\n\n"
        }
        func delta(_ delta: JSONValue, finish: String? = nil) -> JSONValue {
            [["index": 0, "delta": delta, "logprobs": .null, "finish_reason": finish.map(JSONValue.string) ?? .null]]
        }
        var events = [chunk(delta(["role": "assistant", "content": ""]))]
        if let failing {
            events.append(
                "data: \(JSONValue(["error": ["message": .string(failing.message), "type": .string(failing.type), "param": .null, "code": .null]]).jsonText)\n\n"
            )
            return events
        }
        for piece in pieces(script.text ?? "", size: 16) { events.append(chunk(delta(["content": .string(piece)]))) }
        for (index, call) in calls.enumerated() {
            let position = JSONValue.number(Number(index))
            events.append(
                chunk(
                    delta([
                        "tool_calls": [
                            [
                                "index": position, "id": .string(call.id), "type": "function",
                                "function": ["name": .string(call.name), "arguments": ""],
                            ]
                        ]
                    ])))
            for piece in pieces(call.json, size: 8) {
                events.append(
                    chunk(delta(["tool_calls": [["index": position, "function": ["arguments": .string(piece)]]]])))
            }
        }
        events.append(chunk(delta([:], finish: stopReason)))
        events.append(chunk([], usage: openAIUsage))
        events.append("data: [DONE]\n\n")
        return events
    }
}

extension JSONValue {
    fileprivate init(_ value: JSONValue) { self = value }
}
