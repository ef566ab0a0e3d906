import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import UAEFCore

/// A model provider on loopback that speaks the Anthropic Messages API (`POST /v1/messages`) and
/// OpenAI chat completions (`POST /v1/chat/completions`), whole or streamed, answering from a
/// ``FakeModelScript``. Written from the providers' API references and checked with their
/// official Python SDKs (Tests/Support/llm_sdk_check.py); `uaef dev fake-llm` serves it.
///
/// `GET /$fake/calls` lists every call answered: API, model, turn, HTTP status, streamed or not.
public struct FakeModelServer: Sendable {
    public let script: FakeModelScript
    /// The key callers must present (`x-api-key` or `Authorization: Bearer`); nil takes any.
    public let apiKey: String?
    let state = FakeModelState()

    /// The calls answered so far, as `GET /$fake/calls` lists them.
    public var calls: [JSONValue] { state.calls.withLock { $0 } }

    public init(script: FakeModelScript, apiKey: String? = nil) {
        self.script = script
        self.apiKey = apiKey
    }

    /// Serves on `host`:`port` (0: any free port) until cancelled; `onListening` gets the port.
    public func run(host: String = "127.0.0.1", port: Int, onListening: @escaping @Sendable (Int) -> Void)
        async throws
    {
        let router = Router()
        router.post("v1/messages") { request, _ in try await answer(request, api: .anthropic) }
        router.post("v1/chat/completions") { request, _ in try await answer(request, api: .openai) }
        router.get("$fake/calls") { _, _ in
            Self.json(200, .array(state.calls.withLock { $0 }))
        }
        var logger = Logger(label: "uaef-fake-llm")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }, logger: logger)
        try await application.runService(gracefulShutdownSignals: [])
    }

    enum API: String {
        case anthropic, openai
    }

    private func answer(_ request: Request, api: API) async throws -> Response {
        if let problem = authenticationProblem(request, api: api) { return problem }
        let text = String(buffer: try await request.body.collect(upTo: 32 << 20))
        guard let body = try? JSONValue(jsonText: text), let model = body["model"]?.stringValue,
            let messages = body["messages"]?.arrayValue
        else {
            return error(api, 400, type: "invalid_request_error", message: "model and messages are required")
        }
        if api == .anthropic, body["max_tokens"]?.numberValue == nil {
            return error(api, 400, type: "invalid_request_error", message: "max_tokens: Field required")
        }
        let turnNumber = messages.filter { $0["role"] == "assistant" }.count
        let stream = body["stream"] == .bool(true)
        try await Task.sleep(for: script.latency)
        var turn: FakeModelScript.Turn
        if let turns = script.scenarios[model] {
            guard turnNumber < turns.count else {
                return error(
                    api, 400, type: "invalid_request_error",
                    message: "the fake's script for \(model) has \(turns.count) turns; this is turn \(turnNumber + 1)")
            }
            turn = turns[turnNumber]
        } else {
            turn = Self.echo(messages, api: api)
        }
        let asked = state.asked.withLock { asked in
            defer { asked["\(model)\u{0}\(turnNumber)", default: 0] += 1 }
            return asked["\(model)\u{0}\(turnNumber)", default: 0]
        }
        let failure = asked < turn.failures.count ? turn.failures[asked] : nil
        let status = failure.map { $0.midStream || $0.invalidToolInput ? 200 : $0.status } ?? 200
        state.record(api: api, model: model, turn: turnNumber, status: status, stream: stream)
        if let failure, failure.invalidToolInput {
            turn.rawToolInput = String((turn.toolCalls.first?.input.jsonText ?? "{}").dropLast())
        } else if let failure, !failure.midStream {
            var response = error(api, failure.status, type: failure.type, message: failure.message)
            for (name, value) in failure.headers { response.headers[HTTPField.Name(name)!] = value }
            return response
        }
        let answer = FakeAnswer(
            api: api, model: model, turn: turnNumber, script: turn, sequence: state.nextID(),
            promptCharacters: text.utf8.count)
        guard stream else { return Self.json(200, answer.whole()) }
        let events = answer.streamEvents(failing: failure?.midStream == true ? failure : nil)
        let delay = turn.streamDelay
        var response = Response(
            status: .ok,
            body: ResponseBody { writer in
                // Without a pause between events, the stream goes out in one write, as a provider's
                // short answer does: the same bytes, without a flush per event.
                guard delay > .zero else {
                    try await writer.write(ByteBuffer(string: events.joined()))
                    return try await writer.finish(nil)
                }
                for event in events {
                    try await Task.sleep(for: delay)
                    try await writer.write(ByteBuffer(string: event))
                }
                try await writer.finish(nil)
            })
        response.headers[.contentType] = "text/event-stream; charset=utf-8"
        response.headers[.cacheControl] = "no-cache"
        return response
    }

    private func authenticationProblem(_ request: Request, api: API) -> Response? {
        guard let apiKey else { return nil }
        let presented: String? =
            switch api {
            case .anthropic: request.headers[HTTPField.Name("x-api-key")!]
            case .openai: request.headers[.authorization].map { String($0.dropFirst("Bearer ".count)) }
            }
        guard presented != apiKey else { return nil }
        return error(
            api, 401, type: api == .anthropic ? "authentication_error" : "invalid_api_key",
            message: "invalid x-api-key")
    }

    /// An error answer in the API's shape: Anthropic `{"type":"error","error":{"type","message"}}`,
    /// OpenAI `{"error":{"message","type","param","code"}}`.
    func error(_ api: API, _ status: Int, type: String, message: String) -> Response {
        switch api {
        case .anthropic:
            Self.json(status, ["type": "error", "error": ["type": .string(type), "message": .string(message)]])
        case .openai:
            Self.json(
                status,
                ["error": ["message": .string(message), "type": .string(type), "param": .null, "code": .string(type)]])
        }
    }

    static func json(_ status: Int, _ value: JSONValue) -> Response { FakeHTTP.json(status, value) }

    /// The turn a model no scenario names gives: `echo: ` and the last user text.
    static func echo(_ messages: [JSONValue], api: API) -> FakeModelScript.Turn {
        let last = messages.last { $0["role"] == "user" }
        let text =
            last?["content"]?.stringValue
            ?? last?["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
        return FakeModelScript.Turn(
            text: "echo: " + text, toolCalls: [], rawToolInput: nil, stopReason: nil, inputTokens: nil,
            outputTokens: nil, cacheReadTokens: 0, streamDelay: .zero, failures: [])
    }
}

/// What the fake remembers between calls.
final class FakeModelState: Sendable {
    /// How often each model's turn was asked for, so scripted failures come first.
    let asked = Mutex<[String: Int]>([:])
    let calls = Mutex<[JSONValue]>([])
    private let sequence = Atomic<Int>(0)

    func nextID() -> Int { sequence.add(1, ordering: .relaxed).newValue }

    func record(api: FakeModelServer.API, model: String, turn: Int, status: Int, stream: Bool) {
        calls.withLock {
            $0.append([
                "api": .string(api.rawValue), "model": .string(model), "turn": .number(Number(turn)),
                "status": .number(Number(status)), "stream": .bool(stream),
            ])
        }
    }
}
