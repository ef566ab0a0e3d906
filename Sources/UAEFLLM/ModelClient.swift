import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import UAEFAgents
import UAEFCore
import UAEFEngine

/// The two wire formats a model is reached with.
public enum ModelProvider: String, Sendable, Hashable, CaseIterable {
    /// The Anthropic Messages API.
    case anthropic
    /// OpenAI chat completions, also spoken by vLLM, llama.cpp's server and Ollama.
    case openai

    /// Where the provider's own service is.
    public var defaultBaseURL: String {
        switch self {
        case .anthropic: "https://api.anthropic.com"
        case .openai: "https://api.openai.com/v1"
        }
    }

    /// The official SDK's retry rules.
    public var retryPolicy: ModelRetryPolicy {
        switch self {
        case .anthropic: .anthropic
        case .openai: .openAI
        }
    }
}

/// Where and how one agent reaches its model.
public struct ModelEndpoint: Sendable, Hashable {
    public var provider: ModelProvider
    /// The API's root: `https://api.anthropic.com`, or for OpenAI-compatible servers the part
    /// before `/chat/completions` (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    public var baseURL: URL
    /// Empty for servers that need none (a local Ollama).
    public var apiKey: String
    /// Server-sent events (the default) or one JSON answer.
    public var stream: Bool
    /// How long one HTTP request may take, as the SDKs' default: ten minutes.
    public var timeout: Duration
    public var retry: ModelRetryPolicy

    public init(
        provider: ModelProvider, baseURL: URL, apiKey: String, stream: Bool = true, timeout: Duration = .seconds(600),
        retry: ModelRetryPolicy? = nil
    ) {
        self.provider = provider
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.stream = stream
        self.timeout = timeout
        self.retry = retry ?? provider.retryPolicy
    }

    /// The URL calls are posted to.
    public var callURL: URL {
        switch provider {
        case .anthropic: baseURL.appendingPathComponent("v1/messages")
        case .openai: baseURL.appendingPathComponent("chat/completions")
        }
    }
}

/// One answered call: the answer, the body that was sent, and what it took.
public struct ModelCall: Sendable {
    public var response: ModelResponse
    /// The exact request body, for the audit payloads.
    public var requestBody: JSONValue
    /// HTTP requests made, retries included.
    public var requests: Int
    public var latency: Duration
}

/// Calls one model endpoint over a keep-alive client confined by the process's outbound policy,
/// retrying as the provider's SDK does. Shut it down when done.
public struct ModelClient: Sendable {
    public let endpoint: ModelEndpoint
    let http: HTTPClient
    /// The largest answer read: a model's turn is far smaller.
    static let maximumAnswerBytes = 16 << 20

    /// A client for `endpoint` whose connections go only where `policy` allows, keeping up to
    /// `connections` open.
    public init(endpoint: ModelEndpoint, policy: OutboundPolicy, connections: Int = 16) async throws {
        self.endpoint = endpoint
        http = try await OutboundHTTP(policy: policy).client(
            for: endpoint.callURL, method: "POST", by: "llm", connections: connections)
    }

    public func shutdown() async { try? await http.shutdown() }

    /// Asks the model; retries what the SDKs retry, waiting as they do (or as `sleep` does, for
    /// tests). Cancellation stops a wait or a stream at once.
    public func call(
        _ request: ModelRequest, logger: Logger,
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws -> ModelCall {
        let body = requestBody(request)
        let bytes = ByteBuffer(string: body.jsonText)
        let start = ContinuousClock.now
        var retriesDone = 0
        while true {
            do {
                let response = try await send(bytes, retryCount: retriesDone, logger: logger)
                return ModelCall(
                    response: response, requestBody: body, requests: retriesDone + 1, latency: .now - start)
            } catch let failure as RetryableFailure {
                guard retriesDone < endpoint.retry.maxRetries, failure.retry else { throw failure.error }
                let wait = endpoint.retry.delay(
                    retriesDone: retriesDone, headers: failure.headers, now: Date(), jitter: Double.random(in: 0..<1))
                logger.info(
                    "model call failed; retrying",
                    metadata: [
                        "error": "\(failure.error)", "retry": "\(retriesDone + 1)",
                        "wait_ms": "\(Int(wait * 1000))",
                    ])
                try await sleep(.milliseconds(Int64(wait * 1000)))
                retriesDone += 1
            }
        }
    }

    /// The body `request` is sent as.
    public func requestBody(_ request: ModelRequest) -> JSONValue {
        switch endpoint.provider {
        case .anthropic: AnthropicMessages.body(request, stream: endpoint.stream)
        case .openai: OpenAIChat.body(request, stream: endpoint.stream)
        }
    }

    /// A failure before the answer began, with what decides whether to retry it.
    private struct RetryableFailure: Error {
        var error: ModelError
        var retry: Bool
        var headers: [String: String]
    }

    private func send(_ body: ByteBuffer, retryCount: Int, logger: Logger) async throws -> ModelResponse {
        var request = HTTPClientRequest(url: endpoint.callURL.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "accept", value: endpoint.stream ? "text/event-stream" : "application/json")
        request.headers.add(name: "x-stainless-retry-count", value: "\(retryCount)")
        switch endpoint.provider {
        case .anthropic:
            request.headers.add(name: "anthropic-version", value: AnthropicMessages.version)
            if !endpoint.apiKey.isEmpty { request.headers.add(name: "x-api-key", value: endpoint.apiKey) }
        case .openai:
            if !endpoint.apiKey.isEmpty {
                request.headers.add(name: "authorization", value: "Bearer \(endpoint.apiKey)")
            }
        }
        request.body = .bytes(body)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: TimeAmount(endpoint.timeout), logger: logger)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw RetryableFailure(
                error: ModelError(
                    status: nil, type: "connection_error",
                    message: "\(OutboundHTTP.redacted(endpoint.callURL)): \(error)", retryable: true),
                retry: true, headers: [:])
        }
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let text = String(buffer: (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer())
            let json = try? JSONValue(jsonText: text)
            let (type, message) =
                endpoint.provider == .anthropic
                ? AnthropicMessages.error(status: status, body: json, text: text)
                : OpenAIChat.error(body: json, text: text)
            let retry = endpoint.retry.shouldRetry(status: status, headers: headers, now: Date())
            throw RetryableFailure(
                error: ModelError(
                    status: status, type: type, message: message, retryable: retry,
                    retryAfter: ModelRetryPolicy.retryAfter(headers, now: Date()).map {
                        .milliseconds(Int64($0 * 1000))
                    }
                ), retry: retry, headers: headers)
        }
        do {
            return try await endpoint.stream ? streamed(response) : whole(response)
        } catch let error as ModelError {
            throw error
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            // The answer began: like the SDKs, a broken stream is not retried here.
            throw ModelError(
                status: status, type: "connection_error", message: "the answer broke off: \(error)", retryable: true)
        }
    }

    private func whole(_ response: HTTPClientResponse) async throws -> ModelResponse {
        let text = String(buffer: try await response.body.collect(upTo: Self.maximumAnswerBytes))
        let value: JSONValue
        do {
            value = try JSONValue(jsonText: text)
        } catch {
            throw ModelError.malformed("the answer is not JSON: \(error)")
        }
        switch endpoint.provider {
        case .anthropic: return try AnthropicMessages.response(value)
        case .openai: return try OpenAIChat.response(value)
        }
    }

    private func streamed(_ response: HTTPClientResponse) async throws -> ModelResponse {
        var parser = ServerSentEventParser()
        var anthropic = AnthropicMessages.Stream()
        var openAI = OpenAIChat.Stream()
        var received = 0
        for try await buffer in response.body {
            received += buffer.readableBytes
            guard received <= Self.maximumAnswerBytes else {
                throw ModelError.malformed("the answer is longer than \(Self.maximumAnswerBytes) bytes")
            }
            for event in try parser.feed(buffer.readableBytesView) {
                switch endpoint.provider {
                case .anthropic: try anthropic.take(event)
                case .openai: try openAI.take(event)
                }
            }
        }
        switch endpoint.provider {
        case .anthropic: return try anthropic.response()
        case .openai: return try openAI.response()
        }
    }
}
