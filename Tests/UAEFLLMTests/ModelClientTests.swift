import Foundation
import Logging
import Synchronization
import Testing
import UAEFCore
import UAEFEngine
import UAEFFakes
import UAEFLLM

/// Runs `body` with the fake provider serving `script` on loopback; its base URL for `provider`.
func withFakeModel<Result: Sendable>(
    _ script: String, apiKey: String? = "test-key",
    _ body: @Sendable (_ base: FakeBase) async throws -> Result
) async throws -> Result {
    try await withFakeModelServer(script, apiKey: apiKey) { _, base in try await body(base) }
}

/// The fake's base URL for each provider: `base(.anthropic)`.
struct FakeBase: Sendable {
    let port: Int

    func callAsFunction(_ provider: ModelProvider) -> URL {
        URL(string: "http://127.0.0.1:\(port)" + (provider == .openai ? "/v1" : ""))!
    }
}

/// As ``withFakeModel(_:apiKey:_:)``, also handing over the server (its calls).
func withFakeModelServer<Result: Sendable>(
    _ script: String, apiKey: String? = "test-key",
    _ body: @Sendable (FakeModelServer, _ base: FakeBase) async throws -> Result
) async throws -> Result {
    let server = FakeModelServer(script: try FakeModelScript.parse(script, file: "script.yaml"), apiKey: apiKey)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask {
            try await server.run(port: 0) { continuation.yield($0) }
            return nil
        }
        guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
        let result = try await body(server, FakeBase(port: port))
        group.cancelAll()
        return result
    }
}

/// Records the waits a client asked for instead of sleeping.
final class Waits: Sendable {
    let seconds = Mutex<[Double]>([])
    var sleep: @Sendable (Duration) async throws -> Void {
        { duration in
            self.seconds.withLock {
                $0.append(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            }
        }
    }
}

@Suite("Model client against the fake provider on loopback")
struct ModelClientTests {
    static let logger = Logger(label: "test")

    func client(_ base: URL, _ provider: ModelProvider, stream: Bool, key: String = "test-key") async throws
        -> ModelClient
    {
        try await ModelClient(
            endpoint: ModelEndpoint(provider: provider, baseURL: base, apiKey: key, stream: stream),
            policy: .unrestricted)
    }

    static let twoTools = """
        scenarios:
          two-tools:
            - text: Let me look both up.
              tool_calls:
                - {name: get_invoice, input: {id: INV-7, lines: [1, 2]}}
                - {name: get_vendor, input: {name: "Acme \\"Tools\\" Ltd"}}
              usage: {input_tokens: 321, output_tokens: 54, cache_read_input_tokens: 100}
        """

    @Test(
        "both providers, whole and streamed, read the same text, two tool calls and usage from the fake",
        arguments: [ModelProvider.anthropic, .openai], [true, false])
    func toolCalls(_ provider: ModelProvider, stream: Bool) async throws {
        try await withFakeModel(Self.twoTools) { base in
            let client = try await client(base(provider), provider, stream: stream)
            defer { Task { await client.shutdown() } }
            let call = try await client.call(
                ModelRequest(
                    model: "two-tools", system: "You are a clerk.", messages: [.user("Check INV-7")],
                    tools: [
                        ToolDefinition(name: "get_invoice", description: "An invoice", inputSchema: ["type": "object"])
                    ],
                    maxTokens: 256), logger: Self.logger)
            #expect(call.requests == 1)
            let response = call.response
            #expect(response.message.text == "Let me look both up.")
            #expect(response.message.toolUses.map(\.name) == ["get_invoice", "get_vendor"])
            #expect(response.message.toolUses.first?.input == ["id": "INV-7", "lines": [1, 2]])
            #expect(response.message.toolUses.last?.input == ["name": #"Acme "Tools" Ltd"#])
            #expect(response.stopReason == .toolUse)
            #expect(response.usage == TokenUsage(input: 321, output: 54, cacheCreation: 0, cacheRead: 100))
        }
    }

    @Test(
        "overloaded (529) then success is retried after the SDK's backoff; 429 waits the retry-after it names",
        arguments: [ModelProvider.anthropic, .openai])
    func retries(_ provider: ModelProvider) async throws {
        let script = """
            scenarios:
              flaky:
                - failures:
                    - {status: 529, type: overloaded_error, message: Overloaded}
                    - {status: 429, type: rate_limit_error, message: slow down, headers: {retry-after: "3"}}
                  text: fine now
            """
        try await withFakeModel(script) { base in
            let client = try await client(base(provider), provider, stream: true)
            defer { Task { await client.shutdown() } }
            let waits = Waits()
            let call = try await client.call(
                ModelRequest(model: "flaky", messages: [.user("hi")], maxTokens: 10), logger: Self.logger,
                sleep: waits.sleep)
            #expect(call.response.message.text == "fine now")
            #expect(call.requests == 3)
            let seconds = waits.seconds.withLock { $0 }
            #expect(seconds.count == 2)
            #expect(seconds.first.map { (0.375...0.5).contains($0) } == true, "first backoff 0.5 s × (0.75, 1]")
            #expect(seconds.last == 3, "the retry-after the server named")
        }
    }

    @Test("retries stop after the SDKs' two; 400, a wrong key and x-should-retry: false are not retried")
    func notRetried() async throws {
        let script = """
            scenarios:
              down:
                - failures:
                    - {status: 500, type: api_error}
                    - {status: 502, type: api_error}
                    - {status: 503, type: api_error}
                    - {status: 504, type: api_error}
              refused:
                - failures: [{status: 500, type: api_error, message: do not retry, headers: {x-should-retry: "false"}}]
              invalid:
                - failures: [{status: 400, type: invalid_request_error, message: "messages: roles must alternate"}]
                  text: never reached
            """
        try await withFakeModel(script) { base in
            let client = try await client(base(.anthropic), .anthropic, stream: false)
            defer { Task { await client.shutdown() } }
            let waits = Waits()
            func failure(_ model: String, maxTokens: Int = 10) async -> ModelError? {
                do {
                    _ = try await client.call(
                        ModelRequest(model: model, messages: [.user("hi")], maxTokens: maxTokens), logger: Self.logger,
                        sleep: waits.sleep)
                    return nil
                } catch {
                    return error as? ModelError
                }
            }
            #expect(await failure("down")?.status == 503, "three requests: the first and two retries")
            #expect(waits.seconds.withLock { $0.count } == 2)
            let refused = await failure("refused")
            #expect(refused?.status == 500 && refused?.retryable == false && refused?.message == "do not retry")
            let invalid = await failure("invalid")
            #expect(invalid?.status == 400 && invalid?.type == "invalid_request_error" && invalid?.retryable == false)
            #expect(waits.seconds.withLock { $0.count } == 2)
            let wrongKey = try await self.client(base(.anthropic), .anthropic, stream: false, key: "wrong")
            defer { Task { await wrongKey.shutdown() } }
            do {
                _ = try await wrongKey.call(
                    ModelRequest(model: "any", messages: [.user("hi")], maxTokens: 5), logger: Self.logger)
                Issue.record("a wrong key was accepted")
            } catch let error as ModelError {
                #expect(error.status == 401 && error.type == "authentication_error" && !error.retryable)
            }
        }
    }

    @Test(
        "a mid-stream error and broken tool-input JSON fail the call without a retry",
        arguments: [ModelProvider.anthropic, .openai])
    func streamFailures(_ provider: ModelProvider) async throws {
        let script = """
            scenarios:
              breaks:
                - failures: [{status: 529, type: overloaded_error, message: Overloaded, mid_stream: true}]
                  text: never
              garbled:
                - tool_calls: [{name: lookup}]
                  raw_tool_input: '{"id": "INV-'
            """
        try await withFakeModel(script) { base in
            let client = try await client(base(provider), provider, stream: true)
            defer { Task { await client.shutdown() } }
            let waits = Waits()
            for (model, type) in [("breaks", "overloaded_error"), ("garbled", "invalid_tool_input")] {
                do {
                    _ = try await client.call(
                        ModelRequest(model: model, messages: [.user("hi")], maxTokens: 10), logger: Self.logger,
                        sleep: waits.sleep)
                    Issue.record("\(model) answered")
                } catch let error as ModelError {
                    #expect(error.type == type, "\(error)")
                }
            }
            #expect(waits.seconds.withLock { $0.isEmpty })
        }
    }

    @Test("cancelling a call mid-stream ends it at once")
    func cancellation() async throws {
        let script = """
            scenarios:
              slow:
                - text: "\(String(repeating: "a long answer that streams slowly, sixteen characters at a time. ", count: 10))"
                  stream_delay: 1s
            """
        try await withFakeModel(script) { base in
            let client = try await client(base(.anthropic), .anthropic, stream: true)
            defer { Task { await client.shutdown() } }
            let call = Task {
                try await client.call(
                    ModelRequest(model: "slow", messages: [.user("hi")], maxTokens: 10), logger: Self.logger)
            }
            try await Task.sleep(for: .milliseconds(1500))
            let start = ContinuousClock.now
            call.cancel()
            let result = await call.result
            // The whole stream would take about 40 s; a test machine loaded by the whole suite has
            // taken 8 s to end it.
            #expect(ContinuousClock.now - start < .seconds(15))
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }

    @Test("a base URL on loopback is refused unless the operator's outbound policy allows it")
    func outboundPolicy() async throws {
        await #expect {
            _ = try await ModelClient(
                endpoint: ModelEndpoint(
                    provider: .openai, baseURL: URL(string: "http://127.0.0.1:11434/v1")!, apiKey: ""),
                policy: .publicOnly)
        } throws: { error in
            "\(error)".contains("refused")
        }
    }

    @Test("the SDK's retry-after vectors give the SDK's waits", arguments: [0.0, 0.999])
    func retryAfterVectors(_ jitter: Double) throws {
        let vectors = try LLMFixtures.json("anthropic", "retry_after_cases.json")
        let now = Date(timeIntervalSince1970: try #require(vectors["now_epoch_seconds"]?.numberValue?.intValue).double)
        let maxRetries = try #require(vectors["max_retries"]?.numberValue?.intValue)
        var policy = ModelRetryPolicy.anthropic
        policy.maxRetries = maxRetries
        for vector in try #require(vectors["cases"]?.arrayValue) {
            let remaining = try #require(vector["remaining_retries"]?.numberValue?.intValue)
            let header = try #require(vector["retry_after"]?.stringValue)
            let expected = try #require(
                vector["expected"]?.numberValue.map { NSDecimalNumber(decimal: $0.decimal).doubleValue })
            let wait = policy.delay(
                retriesDone: maxRetries - remaining, headers: header.isEmpty ? [:] : ["retry-after": header], now: now,
                jitter: jitter)
            // Honoured headers are exact; backoff is the SDK's value times (0.75, 1].
            #expect(abs(wait - expected) < 0.001 || (wait <= expected && wait >= expected * 0.75), "\(vector)")
        }
    }
}

extension Int {
    fileprivate var double: Double { Double(self) }
}
