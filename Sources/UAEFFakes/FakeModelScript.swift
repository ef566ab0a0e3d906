import UAEFCore

/// What a fake model answers, per scenario (the request's `model`) and per turn (the number of
/// assistant turns already in the conversation, so the same conversation always gets the same
/// answer, as a resumed run needs).
///
/// ```yaml
/// latency: 20ms                 # before each answer
/// scenarios:
///   lookup-then-answer:
///     - tool_calls: [{name: get_invoice, input: {id: INV-1}}]
///     - text: '{"vendor": "ACME", "total": "1250.00"}'
///       usage: {input_tokens: 900, output_tokens: 40}
///   overloaded-once:
///     - failures: [{status: 529, type: overloaded_error}]
///       text: fine now
/// ```
///
/// A turn may also give `stop_reason`, `raw_tool_input` (sent as the first tool call's input
/// text, valid JSON or not), `stream_delay` (between stream events) and `failures`: answers
/// given instead, in order, the first times the turn is asked for (`status`, `type`, `message`,
/// `headers`, `mid_stream: true` for an error event after the stream began,
/// `invalid_tool_input: true` for the turn's answer with its first tool input cut short). A model no
/// scenario names echoes the last user text.
public struct FakeModelScript: Sendable {
    public struct Failure: Sendable, Hashable {
        public var status: Int
        public var type: String
        public var message: String
        public var headers: [String: String]
        public var midStream: Bool
        /// Answers as the turn does, but with the first tool call's input cut short (not JSON).
        public var invalidToolInput: Bool
    }

    /// A tool call the model makes.
    public struct Call: Sendable, Hashable {
        public var name: String
        public var input: JSONValue
    }

    public struct Turn: Sendable, Hashable {
        public var text: String?
        public var toolCalls: [Call]
        public var rawToolInput: String?
        public var stopReason: String?
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var cacheReadTokens: Int
        public var streamDelay: Duration
        public var failures: [Failure]
    }

    public var latency: Duration
    public var scenarios: [String: [Turn]]

    public init(latency: Duration = .zero, scenarios: [String: [Turn]] = [:]) {
        self.latency = latency
        self.scenarios = scenarios
    }

    /// Reads a script (YAML or JSON); the error names the field that is wrong.
    public static func parse(_ text: String, file: String) throws(ScriptError) -> FakeModelScript {
        let value: JSONValue
        switch YAMLSource.parse(text, file: file) {
        case .success(let source):
            switch source.jsonValue() {
            case .success(let json): value = json
            case .failure(let error): throw ScriptError(message: "\(file): \(error)")
            }
        case .failure(let issue): throw ScriptError(message: "\(issue)")
        }
        var script = FakeModelScript()
        if let latency = value["latency"] {
            guard let parsed = latency.stringValue.flatMap(DurationText.parse) else {
                throw ScriptError(message: "\(file): latency: expected a duration such as 20ms")
            }
            script.latency = parsed
        }
        for (name, turns) in value["scenarios"]?.objectValue ?? [:] {
            guard let list = turns.arrayValue else {
                throw ScriptError(message: "\(file): scenarios.\(name): expected a list of turns")
            }
            script.scenarios[name] = try list.enumerated().map { index, turn throws(ScriptError) in
                try Self.turn(turn, field: "\(file): scenarios.\(name)[\(index)]")
            }
        }
        return script
    }

    public struct ScriptError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private static func turn(_ value: JSONValue, field: String) throws(ScriptError) -> Turn {
        guard value.objectValue != nil else { throw ScriptError(message: "\(field): expected a mapping") }
        var calls: [Call] = []
        for (index, call) in (value["tool_calls"]?.arrayValue ?? []).enumerated() {
            guard let name = call["name"]?.stringValue else {
                throw ScriptError(message: "\(field).tool_calls[\(index)].name: required")
            }
            calls.append(Call(name: name, input: call["input"] ?? [:]))
        }
        let failures = try (value["failures"]?.arrayValue ?? []).enumerated().map {
            index, failure throws(ScriptError) -> Failure in
            let invalidToolInput = failure["invalid_tool_input"] == .bool(true)
            guard let status = failure["status"]?.numberValue?.intValue ?? (invalidToolInput ? 200 : nil),
                (100..<600).contains(status)
            else {
                throw ScriptError(message: "\(field).failures[\(index)].status: expected an HTTP status")
            }
            var headers: [String: String] = [:]
            for (name, header) in failure["headers"]?.objectValue ?? [:] {
                headers[name.lowercased()] = header.stringValue ?? header.numberValue?.description ?? ""
            }
            return Failure(
                status: status, type: failure["type"]?.stringValue ?? "api_error",
                message: failure["message"]?.stringValue ?? "scripted failure", headers: headers,
                midStream: failure["mid_stream"] == .bool(true),
                invalidToolInput: failure["invalid_tool_input"] == .bool(true))
        }
        var delay = Duration.zero
        if let text = value["stream_delay"] {
            guard let parsed = text.stringValue.flatMap(DurationText.parse) else {
                throw ScriptError(message: "\(field).stream_delay: expected a duration such as 50ms")
            }
            delay = parsed
        }
        return Turn(
            text: value["text"]?.stringValue, toolCalls: calls, rawToolInput: value["raw_tool_input"]?.stringValue,
            stopReason: value["stop_reason"]?.stringValue,
            inputTokens: value["usage"]?["input_tokens"]?.numberValue?.intValue,
            outputTokens: value["usage"]?["output_tokens"]?.numberValue?.intValue,
            cacheReadTokens: value["usage"]?["cache_read_input_tokens"]?.numberValue?.intValue ?? 0,
            streamDelay: delay, failures: failures)
    }
}
